import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import KilnCore
import KilnTemplate

/// One HTTP(S) download through a URLSession data task: each chunk is written and hashed as it
/// arrives; the body length is checked against Content-Length.
struct HTTPDownload: Sendable {
    var url: URL
    var destination: String
    var algorithm: ChecksumAlgorithm
    var progress: URLFetcher.Progress

    func run() async throws -> FetchResult {
        guard FileManager.default.createFile(atPath: destination, contents: nil),
              let output = FileHandle(forWritingAtPath: destination) else {
            throw KilnError(.baseImage, "cannot write \(destination)")
        }
        let receiver = DownloadReceiver(output: output, algorithm: algorithm, progress: progress)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 60
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        let session = URLSession(configuration: configuration, delegate: receiver, delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        let task = session.dataTask(with: url)
        let outcome: Result<FetchResult, any Error> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                receiver.onFinish = { continuation.resume(returning: $0) }
                task.resume()
            }
        } onCancel: {
            task.cancel()
        }
        try? output.close()
        if Task.isCancelled { throw CancellationError() }
        return try outcome.mapError { describe($0) }.get()
    }

    private func describe(_ error: any Error) -> any Error {
        if error is KilnError { return error }
        let where_ = url.absoluteString
        guard let urlError = error as? URLError else {
            return KilnError(.baseImage, "download of \(where_) failed: \(error.localizedDescription)", cause: error)
        }
        switch urlError.code {
        case .cannotConnectToHost, .cannotFindHost, .dnsLookupFailed, .notConnectedToInternet:
            return KilnError(.baseImage, "cannot connect to \(where_) (\(urlError.localizedDescription))",
                             hint: "check the URL and your network connection", cause: error)
        case .networkConnectionLost:
            return KilnError(.baseImage, "download of \(where_) was cut short: the server closed the connection",
                             hint: "try again", cause: error)
        case .timedOut:
            return KilnError(.baseImage, "download of \(where_) timed out", cause: error)
        default:
            return KilnError(.baseImage, "download of \(where_) failed: \(urlError.localizedDescription)", cause: error)
        }
    }
}

/// The session delegate: receives the response and the body chunks on the session's queue.
private final class DownloadReceiver: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let output: FileHandle
    private let progress: URLFetcher.Progress
    private var digest: StreamingDigest
    private var received: UInt64 = 0
    private var expected: UInt64?
    private var failure: (any Error)?
    private let lock = NSLock()
    private var finished = false
    var onFinish: ((Result<FetchResult, any Error>) -> Void)?

    init(output: FileHandle, algorithm: ChecksumAlgorithm, progress: @escaping URLFetcher.Progress) {
        self.output = output
        self.digest = StreamingDigest(algorithm)
        self.progress = progress
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        if let http = response as? HTTPURLResponse, !(200..<300).contains(http.statusCode) {
            failure = KilnError(.baseImage, "\(response.url?.absoluteString ?? "the server") answered HTTP \(http.statusCode)")
            completionHandler(.cancel)
            return
        }
        if response.expectedContentLength >= 0 { expected = UInt64(response.expectedContentLength) }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        guard failure == nil else { return }
        do {
            try output.write(contentsOf: data)
            digest.update(data)
            received += UInt64(data.count)
            progress(received, expected)
        } catch {
            failure = KilnError(.baseImage, "cannot write the download: \(error)", cause: error)
            dataTask.cancel()
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        let result: Result<FetchResult, any Error>
        if let failure {
            result = .failure(failure)
        } else if let expected, expected != received, (error as? URLError)?.code != .cancelled {
            let url = task.originalRequest?.url?.absoluteString ?? "the download"
            result = .failure(KilnError(.baseImage,
                "download of \(url) was cut short: received \(received) of \(expected) bytes", hint: "try again", cause: error))
        } else if let error {
            result = .failure(error)
        } else {
            result = .success(FetchResult(bytes: received, hex: digest.finalizeHex()))
        }
        let callback: ((Result<FetchResult, any Error>) -> Void)? = lock.withLock {
            defer { finished = true }
            return finished ? nil : onFinish
        }
        callback?(result)
    }
}
