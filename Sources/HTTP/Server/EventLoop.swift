import CHTTPShim
import Foundation
import Glibc
import Synchronization

/// One thread running `epoll_wait` that parks a Swift continuation per file descriptor and
/// direction until the socket is ready, a deadline passes, the wait is interrupted, or the
/// waiting task is cancelled.
///
/// Sockets are registered edge-triggered for both directions once. A task always tries its
/// system call first and waits only after `EAGAIN`; an edge that arrives while no task waits
/// is remembered in a flag, so no wake-up is lost between the call and the wait. Thousands of
/// idle connections therefore cost one map entry each, not a thread.
final class EventLoop: Sendable {
    enum Interest: Sendable {
        case read
        case write
    }

    private struct Waiter {
        let token: UInt64
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct Registration {
        var readReady = false
        var writeReady = false
        var peerClosed = false
        var interrupted = false
        var reader: Waiter?
        var writer: Waiter?
    }

    private struct Timer {
        let deadline: ContinuousClock.Instant
        let fd: Int32
        let token: UInt64
        let interest: Interest
    }

    private struct State {
        var registrations: [Int32: Registration] = [:]
        var timers = TimerHeap()
        var nextToken: UInt64 = 0
        /// When the loop thread will wake up on its own; `nil` while it sleeps without a timeout.
        var plannedWake: ContinuousClock.Instant?
        var stopped = false
    }

    private let epollFD: Int32
    private let wakeFD: Int32
    private let state = Mutex(State())

    init() throws(HTTPError) {
        let epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epollFD >= 0 else { throw .system("epoll_create1", errno: errno) }
        let wakeFD = eventfd(0, Int32(EFD_CLOEXEC) | Int32(EFD_NONBLOCK))
        guard wakeFD >= 0 else {
            let code = errno
            SocketCalls.close(epollFD)
            throw .system("eventfd", errno: code)
        }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.fd = wakeFD
        guard epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, &event) == 0 else {
            let code = errno
            SocketCalls.close(epollFD)
            SocketCalls.close(wakeFD)
            throw .system("epoll_ctl", errno: code)
        }
        self.epollFD = epollFD
        self.wakeFD = wakeFD
    }

    /// Starts the loop's thread. Call once.
    func start(name: String = "HTTP event loop") {
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    /// Stops the thread; it closes the epoll and eventfd descriptors on its way out.
    /// Every socket must have been deregistered first.
    func stop() {
        state.withLock { $0.stopped = true }
        signal()
    }

    /// Adds a non-blocking socket to the loop.
    func register(_ fd: Int32) throws(HTTPError) {
        state.withLock { $0.registrations[fd] = Registration() }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue | EPOLLOUT.rawValue | EPOLLRDHUP.rawValue | EPOLLET.rawValue
        event.data.fd = fd
        guard epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) == 0 else {
            let code = errno
            state.withLock { _ = $0.registrations.removeValue(forKey: fd) }
            throw .system("epoll_ctl", errno: code)
        }
    }

    /// Removes a socket before its owner closes it; a task still waiting on it gets `clientDisconnected`.
    func deregister(_ fd: Int32) {
        var event = epoll_event()
        _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, &event)
        let registration = state.withLock { $0.registrations.removeValue(forKey: fd) }
        registration?.reader?.continuation.resume(throwing: HTTPError.clientDisconnected)
        registration?.writer?.continuation.resume(throwing: HTTPError.clientDisconnected)
    }

    /// Makes the current and every later wait on `fd` throw `shuttingDown`, until deregistered.
    func interrupt(_ fd: Int32) {
        let waiters = state.withLock { state -> [Waiter] in
            guard var registration = state.registrations[fd] else { return [] }
            registration.interrupted = true
            let waiters = [registration.reader, registration.writer].compactMap { $0 }
            registration.reader = nil
            registration.writer = nil
            state.registrations[fd] = registration
            return waiters
        }
        for waiter in waiters { waiter.continuation.resume(throwing: HTTPError.shuttingDown) }
    }

    /// Whether the peer has hung up or shut down its sending side (`EPOLLRDHUP`, `EPOLLHUP`, `EPOLLERR`).
    func peerClosed(_ fd: Int32) -> Bool {
        state.withLock { $0.registrations[fd]?.peerClosed ?? true }
    }

    /// Waits until `fd` may be ready for `interest`.
    /// - Throws: `timedOut` at `deadline`, `shuttingDown` after ``interrupt(_:)``,
    ///   `CancellationError` when the task is cancelled.
    func wait(_ fd: Int32, for interest: Interest, until deadline: ContinuousClock.Instant?) async throws {
        let token = state.withLock { state in
            state.nextToken += 1
            return state.nextToken
        }
        enum Outcome {
            case ready
            case failed(any Error)
            case parked(wakeLoop: Bool)
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let outcome = state.withLock { state -> Outcome in
                    guard var registration = state.registrations[fd] else {
                        return .failed(HTTPError.clientDisconnected)
                    }
                    if registration.interrupted { return .failed(HTTPError.shuttingDown) }
                    // Checked under the lock: a cancellation handler that runs later finds the waiter.
                    if Task.isCancelled { return .failed(CancellationError()) }
                    let waiter = Waiter(token: token, continuation: continuation)
                    switch interest {
                    case .read:
                        if registration.readReady {
                            registration.readReady = false
                            state.registrations[fd] = registration
                            return .ready
                        }
                        registration.reader = waiter
                    case .write:
                        if registration.writeReady {
                            registration.writeReady = false
                            state.registrations[fd] = registration
                            return .ready
                        }
                        registration.writer = waiter
                    }
                    state.registrations[fd] = registration
                    guard let deadline else { return .parked(wakeLoop: false) }
                    state.timers.push(Timer(deadline: deadline, fd: fd, token: token, interest: interest))
                    return .parked(wakeLoop: state.plannedWake.map { deadline < $0 } ?? true)
                }
                switch outcome {
                case .ready: continuation.resume()
                case .failed(let error): continuation.resume(throwing: error)
                case .parked(let wakeLoop): if wakeLoop { signal() }
                }
            }
        } onCancel: {
            resume(fd, token: token, with: CancellationError())
        }
    }

    private func resume(_ fd: Int32, token: UInt64, with error: any Error) {
        let waiter = state.withLock { state -> Waiter? in
            guard var registration = state.registrations[fd] else { return nil }
            var found: Waiter?
            if registration.reader?.token == token {
                found = registration.reader
                registration.reader = nil
            } else if registration.writer?.token == token {
                found = registration.writer
                registration.writer = nil
            }
            state.registrations[fd] = registration
            return found
        }
        waiter?.continuation.resume(throwing: error)
    }

    private func signal() {
        var one: UInt64 = 1
        _ = Glibc.write(wakeFD, &one, MemoryLayout<UInt64>.size)
    }

    private func run() {
        let capacity = 256
        var events = [epoll_event](repeating: epoll_event(), count: capacity)
        while true {
            let timeout = state.withLock { state -> Int32? in
                if state.stopped { return nil }
                guard let next = state.timers.first?.deadline else {
                    state.plannedWake = nil
                    return -1
                }
                state.plannedWake = next
                return Self.milliseconds(until: next)
            }
            guard let timeout else { break }
            let count = epoll_wait(epollFD, &events, Int32(capacity), timeout)
            if count < 0 {
                if errno == EINTR { continue }
                fatalError("epoll_wait failed with errno \(errno)")
            }
            var ready: [(CheckedContinuation<Void, any Error>, (any Error)?)] = []
            var drainWake = false
            state.withLock { state in
                for index in 0..<Int(count) {
                    let fd = events[index].data.fd
                    if fd == wakeFD {
                        drainWake = true
                        continue
                    }
                    guard var registration = state.registrations[fd] else { continue }
                    let mask = events[index].events
                    let hangup = EPOLLRDHUP.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue
                    if mask & hangup != 0 { registration.peerClosed = true }
                    if mask & (EPOLLIN.rawValue | hangup) != 0 {
                        if let reader = registration.reader {
                            ready.append((reader.continuation, nil))
                            registration.reader = nil
                        } else {
                            registration.readReady = true
                        }
                    }
                    if mask & (EPOLLOUT.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 {
                        if let writer = registration.writer {
                            ready.append((writer.continuation, nil))
                            registration.writer = nil
                        } else {
                            registration.writeReady = true
                        }
                    }
                    state.registrations[fd] = registration
                }
                let now = ContinuousClock.now
                while let timer = state.timers.first, timer.deadline <= now {
                    state.timers.pop()
                    guard var registration = state.registrations[timer.fd] else { continue }
                    switch timer.interest {
                    case .read where registration.reader?.token == timer.token:
                        ready.append((registration.reader!.continuation, HTTPError.timedOut))
                        registration.reader = nil
                    case .write where registration.writer?.token == timer.token:
                        ready.append((registration.writer!.continuation, HTTPError.timedOut))
                        registration.writer = nil
                    default:
                        continue
                    }
                    state.registrations[timer.fd] = registration
                }
            }
            if drainWake {
                var value: UInt64 = 0
                _ = Glibc.read(wakeFD, &value, MemoryLayout<UInt64>.size)
            }
            for (continuation, error) in ready {
                if let error { continuation.resume(throwing: error) } else { continuation.resume() }
            }
        }
        SocketCalls.close(epollFD)
        SocketCalls.close(wakeFD)
    }

    private static func milliseconds(until deadline: ContinuousClock.Instant) -> Int32 {
        let remaining = ContinuousClock.now.duration(to: deadline)
        if remaining <= .zero { return 0 }
        let (seconds, attoseconds) = remaining.components
        let milliseconds = seconds * 1_000 + attoseconds / 1_000_000_000_000_000 + 1
        return Int32(clamping: milliseconds)
    }

    /// A binary min-heap of timers by deadline. Stale entries (their wait already ended) are
    /// skipped when they come due rather than searched for and removed.
    private struct TimerHeap {
        private var items: [Timer] = []

        var first: Timer? { items.first }

        mutating func push(_ timer: Timer) {
            items.append(timer)
            var child = items.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard items[child].deadline < items[parent].deadline else { break }
                items.swapAt(child, parent)
                child = parent
            }
        }

        mutating func pop() {
            guard !items.isEmpty else { return }
            items.swapAt(0, items.count - 1)
            items.removeLast()
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var smallest = parent
                if left < items.count && items[left].deadline < items[smallest].deadline { smallest = left }
                if right < items.count && items[right].deadline < items[smallest].deadline { smallest = right }
                guard smallest != parent else { return }
                items.swapAt(parent, smallest)
                parent = smallest
            }
        }
    }
}
