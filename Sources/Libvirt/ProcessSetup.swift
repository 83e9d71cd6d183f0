import CLibvirt
import Glibc

/// Process-wide settings libvirt needs, applied once before the first connection.
enum ProcessSetup {
    private static let applied: Void = {
        // libvirt prints every error to stderr unless a handler is installed. Errors are read
        // and returned as `LibvirtError`, so the handler does nothing.
        virSetErrorFunc(nil) { _, _ in }
        // libvirt writes to its socket with plain write(2): once the daemon has gone away
        // (e.g. restarted), the next call would kill the process with SIGPIPE instead of
        // failing. libvirt's documentation asks applications to ignore it; an application
        // that installed its own handler keeps it.
        var current = sigaction()
        if sigaction(SIGPIPE, nil, &current) == 0 && current.__sigaction_handler.sa_handler == nil {
            signal(SIGPIPE, SIG_IGN)
        }
        // libvirt's default event loop, run on a thread of its own (as virsh does): the remote
        // driver needs it to send and answer keepalive messages (`Connection.setKeepAlive`),
        // so that a daemon or host that stops answering is noticed, and to see a closed
        // socket without waiting for the next call. Registered before any connection opens.
        if virEventRegisterDefaultImpl() == 0 {
            var thread = pthread_t()
            pthread_create(&thread, nil, { _ in
                while true { _ = virEventRunDefaultImpl() }
            }, nil)
            pthread_detach(thread)
        }
    }()

    /// Safe to call from any thread, any number of times.
    static func apply() {
        _ = applied
    }
}
