#!/usr/bin/env python3
"""Helpers for scripts/bench-aws.

  make-disk PATH SIZE_MIB DATA_PERCENT ZERO_PERCENT SEED
      A raw disk with an MBR (boot code, one partition) so that Kiln will publish it:
      DATA_PERCENT of its 512 KiB blocks random, ZERO_PERCENT written as explicit zeros,
      the rest holes. DATA_PERCENT 100 makes every block random.
  boto3-upload RAW ENDPOINT CONCURRENCY
      EBS direct upload of RAW's non-zero 512 KiB blocks with boto3 (StartSnapshot,
      PutSnapshotBlock from a thread pool of CONCURRENCY, CompleteSnapshot), doing what Kiln
      does: holes are found with SEEK_DATA (untimed), then each worker reads a block of a data
      extent, skips it if all zeros, else hashes and sends it (timed). Prints one JSON line.
  kiln-events JSON_LINES
      From `kiln build --json` output: the publish step's seconds and the upload's figures
      from Kiln's "AMI ... registered" line. Prints one JSON line.
  report RESULTS_JSON_LINES
      Medians, throughput and ratios as a markdown table.
"""
import base64
import concurrent.futures
import hashlib
import json
import os
import random
import re
import statistics
import sys
import time
import uuid

BLOCK = 512 * 1024


def make_disk(path, size_mib, data_percent, zero_percent, seed):
    size = int(size_mib) << 20
    blocks = size // BLOCK
    rng = random.Random(int(seed))
    data_percent, zero_percent = float(data_percent), float(zero_percent)
    order = list(range(1, blocks))
    rng.shuffle(order)
    data_count = blocks - 1 if data_percent >= 100 else int(blocks * data_percent / 100)
    zero_count = 0 if data_percent >= 100 else int(blocks * zero_percent / 100)
    data_blocks = set(order[:data_count])
    zero_blocks = set(order[data_count:data_count + zero_count])
    mbr = bytearray(512)
    for i in range(440):
        mbr[i] = (i * 7 + 1) & 0xFF
    mbr[446 + 4] = 0x83
    mbr[446 + 8] = 1
    mbr[446 + 12:446 + 16] = (size // 512 - 1).to_bytes(4, "little")
    mbr[510], mbr[511] = 0x55, 0xAA
    with open(path, "wb") as f:
        f.truncate(size)
        first = bytearray(os.urandom(BLOCK))
        first[:512] = mbr
        f.seek(0)
        f.write(first)
        for index in sorted(data_blocks | zero_blocks):
            f.seek(index * BLOCK)
            f.write(os.urandom(BLOCK) if index in data_blocks else bytes(BLOCK))
    print(json.dumps({"blocks": blocks, "data_blocks": len(data_blocks) + 1, "zero_blocks": len(zero_blocks)}))


def data_blocks(path):
    """Indexes of the blocks overlapping data extents (holes skipped with SEEK_DATA), as Kiln finds them."""
    found = []
    with open(path, "rb") as f:
        fd = f.fileno()
        size = os.fstat(fd).st_size
        offset = 0
        while offset < size:
            try:
                start = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError:
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            first = max(start // BLOCK, found[-1] + 1 if found else 0)
            found.extend(range(first, (end - 1) // BLOCK + 1))
            offset = end
    return found, size


def boto3_upload(raw, endpoint, concurrency):
    import boto3
    from botocore.config import Config

    concurrency = int(concurrency)
    indexes, size = data_blocks(raw)
    config = Config(max_pool_connections=concurrency, retries={"max_attempts": 3, "mode": "standard"})
    ebs = boto3.client("ebs", region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id="AKIDBENCH",
                       aws_secret_access_key="bench-secret", config=config)
    fd = os.open(raw, os.O_RDONLY)
    zero = bytes(BLOCK)

    def put(snapshot, index):
        """Like Kiln: read the block, skip it if it is all zeros, else hash it and send it."""
        data = os.pread(fd, BLOCK, index * BLOCK)
        if len(data) < BLOCK:
            data += bytes(BLOCK - len(data))
        if data == zero:
            return 0
        checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
        ebs.put_snapshot_block(SnapshotId=snapshot, BlockIndex=index, BlockData=data, DataLength=BLOCK,
                               Checksum=checksum, ChecksumAlgorithm="SHA256")
        return 1

    started = time.monotonic()
    volume_gib = max(1, (size + (1 << 30) - 1) >> 30)
    snapshot = ebs.start_snapshot(VolumeSize=volume_gib, ClientToken=str(uuid.uuid4()), Timeout=60)["SnapshotId"]
    upload_started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=concurrency) as pool:
        sent = sum(future.result() for future in [pool.submit(put, snapshot, index) for index in indexes])
    upload_seconds = time.monotonic() - upload_started
    ebs.complete_snapshot(SnapshotId=snapshot, ChangedBlocksCount=sent)
    total = time.monotonic() - started
    os.close(fd)
    print(json.dumps({"blocks_sent": sent, "blocks_skipped": size // BLOCK - sent, "upload_seconds": upload_seconds,
                      "total_seconds": total}))


def kiln_events(path):
    publish_seconds = None
    upload = {}
    pattern = re.compile(r"(\d+) blocks sent, (\d+) zero blocks skipped, uploaded in ([0-9.]+) s")
    with open(path) as f:
        for line in f:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "step_finished" and event.get("step", "").startswith("publish"):
                publish_seconds = event["seconds"]
            match = pattern.search(event.get("message", "")) if event.get("event") == "info" else None
            if match:
                upload = {"blocks_sent": int(match[1]), "blocks_skipped": int(match[2]),
                          "upload_seconds": float(match[3])}
    if publish_seconds is None or not upload:
        sys.exit("kiln-events: no publish step or upload figures in " + path)
    print(json.dumps(dict(upload, publish_seconds=publish_seconds)))


def report(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    groups = {}
    for row in rows:
        groups.setdefault((row["way"], row["disk"]), []).append(row)

    def median(way, disk, key):
        values = [r[key] for r in groups.get((way, disk), []) if r.get(key) is not None]
        return statistics.median(values) if values else None

    def mbps(way, disk):
        seconds = median(way, disk, "upload_seconds")
        blocks = median(way, disk, "blocks_sent")
        return blocks * BLOCK / 1e6 / seconds if seconds and blocks else None

    def fmt(value, unit=""):
        return "–" if value is None else (f"{value:.2f}{unit}" if isinstance(value, float) else f"{value}{unit}")

    out = ["| disk | way | runs | blocks sent | upload (median) | throughput | Kiln ÷ boto3 (throughput) |",
           "|---|---|---:|---:|---:|---:|---:|"]
    for disk in ("sparse", "full"):
        for way in ("kiln", "boto3"):
            if (way, disk) not in groups:
                continue
            ratio = ""
            if way == "kiln" and mbps("kiln", disk) and mbps("boto3", disk):
                ratio = f"{mbps('kiln', disk) / mbps('boto3', disk):.2f}×"
            out.append(f"| {disk} | {way} | {len(groups[(way, disk)])} | {fmt(median(way, disk, 'blocks_sent'))} | "
                       f"{fmt(median(way, disk, 'upload_seconds'), ' s')} | {fmt(mbps(way, disk), ' MB/s')} | {ratio} |")
    sparse_publish, full_publish = median("kiln", "sparse", "publish_seconds"), median("kiln", "full", "publish_seconds")
    sparse_upload, full_upload = median("kiln", "sparse", "upload_seconds"), median("kiln", "full", "upload_seconds")
    if sparse_publish and full_publish:
        skipped = median("kiln", "sparse", "blocks_skipped")
        out += ["",
                f"Zero-block skipping (Kiln): the sparse disk sent {fmt(median('kiln', 'sparse', 'blocks_sent'))} blocks and "
                f"skipped {fmt(skipped)}; the full disk sent {fmt(median('kiln', 'full', 'blocks_sent'))}. "
                f"Upload {fmt(sparse_upload, ' s')} against {fmt(full_upload, ' s')} "
                f"({full_upload / sparse_upload:.2f}× faster); whole publish step (conversion to raw, upload, "
                f"register) {fmt(sparse_publish, ' s')} against {fmt(full_publish, ' s')}."]
    print("\n".join(out))


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"make-disk": make_disk, "boto3-upload": boto3_upload, "kiln-events": kiln_events, "report": report}[command](*args)
