import NIOCore
import Synchronization

/// The relayed calls that do not end by themselves (watch streams, the event log): on drain
/// the gateway ends them at once, as the backends do, instead of waiting for callers that never
/// hang up (the process would outlive its grace period). Callers resume from the last sequence
/// or position they saw, on another instance or after the restart.
final class LongLivedCalls: Sendable {
  private struct State {
    var calls: [ObjectIdentifier: (any EventLoop, NIOLoopBound<RelayCall>)] = [:]
    var draining = false
  }
  private let state = Mutex(State())

  /// Keeps `call` until `remove`; false once draining (the caller ends the call at once).
  func add(_ call: RelayCall, on eventLoop: any EventLoop) -> Bool {
    let bound = NIOLoopBound(call, eventLoop: eventLoop)
    return state.withLock { state in
      guard !state.draining else { return false }
      state.calls[ObjectIdentifier(call)] = (eventLoop, bound)
      return true
    }
  }

  func remove(_ call: RelayCall) {
    _ = state.withLock { $0.calls.removeValue(forKey: ObjectIdentifier(call)) }
  }

  /// Ends every long-lived call (each on its event loop), and every one that starts later.
  func endAll() {
    let calls = state.withLock { state in
      state.draining = true
      return Array(state.calls.values)
    }
    for (eventLoop, call) in calls {
      eventLoop.execute { call.value.endForShutdown() }
    }
  }
}
