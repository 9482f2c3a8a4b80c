import Domain
import ServiceLifecycle
import UnixSignals

/// The core loop as a `Service`: it runs on a dedicated thread (deadlines are served with a timed
/// wait on CLOCK_MONOTONIC, away from Swift's cooperative pool), and graceful shutdown is a
/// `.terminate` input, after which the loop removes what Flywall owns and the service returns.
public struct CoreLoopService: Service {
    private let loop: DaemonLoop
    private let inputs: DaemonInputQueue

    public init(loop: DaemonLoop, inputs: DaemonInputQueue) {
        self.loop = loop
        self.inputs = inputs
    }

    public func run() async throws {
        let loop = loop
        let inputs = inputs
        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
                    do {
                        try DedicatedThread.detach(name: "flywall-core", timing: true) {
                            done.resume(with: Result { try loop.run() })
                        }
                    } catch {
                        done.resume(throwing: error)
                    }
                }
            } onGracefulShutdown: {
                inputs.push(.terminate)
            }
        } onCancel: {
            inputs.push(.terminate)
        }
    }
}

/// SIGHUP as a `.reload` input, until graceful shutdown.
public struct ReloadSignalService: Service {
    private let inputs: DaemonInputQueue

    public init(inputs: DaemonInputQueue) { self.inputs = inputs }

    public func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            inputs.push(.reload)
        }
    }
}

/// An input source that runs on threads of its own (probers, link monitor, passive capture): the
/// service keeps it for the group's life and stops it when the group shuts down, after the core
/// loop (services stop in reverse order), so the loop never waits on a stopped source.
public struct InputSourceService: Service, CustomStringConvertible {
    public let description: String
    private let stop: @Sendable () -> Void

    public init(_ name: String, stop: @escaping @Sendable () -> Void) {
        description = name
        self.stop = stop
    }

    public func run() async throws {
        try? await gracefulShutdown()
        stop()
    }
}
