#!/usr/bin/env python3
"""A stub of EC2's import calls on 127.0.0.1, for tests (moto has no ImportImage).

usage: ec2-import-stub.py PORT STATES_JSON LOG
  STATES_JSON  a list of [status, statusMessage] answered by successive DescribeImportImageTasks
               polls (the last one repeats); after CancelImportTask the task reads "deleted".
  LOG          every request body is appended to it, one line each.
Completed tasks report image ami-0777 and snapshot snap-0888; RegisterImage answers ami-0f1a1;
DescribeImages says every image asked about is available; other actions answer <return>true.
"""
import http.server
import json
import sys
import urllib.parse

states = json.loads(sys.argv[2])
task = {"polls": 0, "cancelled": False}


def answer(action, inner):
    return "<%sResponse>%s</%sResponse>" % (action, inner, action)


def describe_task():
    if task["cancelled"]:
        status, message = "deleted", "User initiated task cancelation"
    else:
        status, message = states[min(task["polls"], len(states) - 1)]
        task["polls"] += 1
    done = ("<imageId>ami-0777</imageId><snapshotDetailSet><item><snapshotId>snap-0888</snapshotId></item>"
            "</snapshotDetailSet>") if status == "completed" else ""
    return ("<importImageTaskSet><item><importTaskId>import-ami-0123</importTaskId><status>%s</status>"
            "<statusMessage>%s</statusMessage><progress>%d</progress>%s</item></importImageTaskSet>"
            % (status, message, task["polls"] * 10, done))


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        with open(sys.argv[3], "a") as log:
            log.write(body + "\n")
        fields = urllib.parse.parse_qs(body)
        action = fields["Action"][0]
        if action == "ImportImage":
            inner = "<importTaskId>import-ami-0123</importTaskId><status>active</status>"
        elif action == "DescribeImportImageTasks":
            inner = describe_task()
        elif action == "CancelImportTask":
            task["cancelled"] = True
            inner = "<importTaskId>import-ami-0123</importTaskId><previousState>active</previousState><state>deleting</state>"
        elif action == "RegisterImage":
            inner = "<imageId>ami-0f1a1</imageId>"
        elif action == "DescribeImages":
            ids = [value[0] for key, value in sorted(fields.items()) if key.startswith("ImageId.")]
            inner = "<imagesSet>%s</imagesSet>" % "".join(
                "<item><imageId>%s</imageId><imageState>available</imageState></item>" % i for i in ids)
        else:
            inner = "<return>true</return>"
        data = answer(action, inner).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
