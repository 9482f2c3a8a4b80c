#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// A plain POSIX thread, for work that blocks in the kernel (netlink receive loops) or must change
/// per-thread kernel state (`setns`), neither of which belongs on Swift's cooperative pool.
enum DedicatedThread {
    private final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    /// The nice value of the threads that keep time (the core loop, the probers): above everything
    /// else on the router, the daemon's own API and history included, so a busy API client or a
    /// build on the box never delays a probe round or a failover.
    static let timingNice: Int32 = -10

    /// Starts `body` on a new thread and returns its handle (join it, or it leaks). `timing`: the
    /// thread runs at `timingNice` when the process may raise priority (CAP_SYS_NICE; root), else
    /// at the normal one.
    static func start(name: String, timing: Bool = false, _ body: @escaping @Sendable () -> Void) throws(SystemError) -> pthread_t {
        guard timing else { return try startUnchecked(name: name, body) }
        return try startUnchecked(name: name) {
            // On Linux a nice value belongs to the thread (its tid); EPERM leaves it as it was.
            if let gettid = GNUFunctions.gettid {
                _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(gettid()), timingNice)
            }
            body()
        }
    }

    /// Like `start`, for callers that join before anything else touches what `body` captured.
    static func startUnchecked(name: String, _ body: @escaping () -> Void) throws(SystemError) -> pthread_t {
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { argument in
            Unmanaged<Body>.fromOpaque(argument!).takeRetainedValue().run()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            throw SystemError(operation: "pthread_create(\(name))", errno: Errno(rawValue: rc))
        }
        // The kernel keeps at most 15 bytes of a thread name; it shows in top and /proc.
        if let setName = GNUFunctions.pthreadSetName { _ = setName(thread, String(name.prefix(15))) }
        return thread
    }

    static func join(_ thread: pthread_t) {
        pthread_join(thread, nil)
    }

    /// Runs `body` once on a new detached thread (blocking calls such as `getaddrinfo`, loops that
    /// live as long as the process).
    static func detach(name: String, timing: Bool = false, _ body: @escaping @Sendable () -> Void) throws(SystemError) {
        pthread_detach(try start(name: name, timing: timing, body))
    }
}

/// glibc functions that its headers declare only under `_GNU_SOURCE`, which Swift's Glibc module is
/// built without: looked up once by name in the C library that is already loaded.
private enum GNUFunctions {
    typealias SetNS = @convention(c) (Int32, Int32) -> Int32
    typealias PthreadSetName = @convention(c) (pthread_t, UnsafePointer<CChar>) -> Int32
    typealias GetTID = @convention(c) () -> Int32

    /// `CLONE_NEWNET` from <sched.h>.
    static let cloneNewNet: Int32 = 0x4000_0000

    static let setns: SetNS? = lookup("setns")
    static let pthreadSetName: PthreadSetName? = lookup("pthread_setname_np")
    static let gettid: GetTID? = lookup("gettid")

    private static func lookup<F>(_ name: String) -> F? {
        // RTLD_DEFAULT is ((void *) 0): search every object already loaded.
        guard let symbol = dlsym(nil, name) else { return nil }
        return unsafeBitCast(symbol, to: F.self)
    }
}

/// Runs code inside another network namespace without moving the calling thread.
public enum NetworkNamespace {
    /// Runs `body` on a new thread that has joined the network namespace at `path` (such as
    /// `/run/netns/NAME`, as `ip netns add` makes them) and returns its result.
    ///
    /// Sockets opened inside `body` (a `LinkMonitor`, `RoutingProgrammer`, `ConntrackFlusher`, ...)
    /// stay in that namespace for their whole life, whichever thread uses them afterwards; threads
    /// started inside `body` start in it too. The calling thread's namespace never changes.
    public static func run<T>(path: String, _ body: () throws -> T) throws -> T {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError.lastErrno("open", on: path) }
        defer { close(fd) }
        return try withoutActuallyEscaping(body) { body in
            var outcome: Result<T, any Error> = .failure(SystemError(operation: "run in network namespace", subject: path, errno: nil, detail: "did not run"))
            let thread = try DedicatedThread.startUnchecked(name: "flywall-netns") {
                guard let setns = GNUFunctions.setns else {
                    outcome = .failure(SystemError(operation: "setns", errno: .noFunction, detail: "not found in the C library"))
                    return
                }
                guard setns(fd, GNUFunctions.cloneNewNet) == 0 else {
                    outcome = .failure(SystemError.lastErrno("setns", on: path))
                    return
                }
                outcome = Result { try body() }
            }
            DedicatedThread.join(thread)
            return try outcome.get()
        }
    }

    /// `run(path:)` for a namespace made with `ip netns add NAME`.
    public static func run<T>(named name: String, _ body: () throws -> T) throws -> T {
        try run(path: "/run/netns/\(name)", body)
    }
}
