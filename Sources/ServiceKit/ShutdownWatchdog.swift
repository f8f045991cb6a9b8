import Foundation
import Logging
import UnixSignals

/// The promise that a process always stops: after the first SIGTERM or SIGINT, graceful
/// shutdown (drain) has the grace period plus a few seconds; whatever still runs then (a
/// handler stuck on a database that crashed, say) does not keep the process alive. A second
/// signal stops it at once. Either way it exits with status 1 and says why.
enum ShutdownWatchdog {
  static let margin: Duration = .seconds(5)

  static func watch(grace: Duration, logger: Logger) async {
    var received = 0
    for await signal in await UnixSignalsSequence(trapping: .sigterm, .sigint) {
      received += 1
      if received == 1 {
        Task.detached {
          try? await Task.sleep(for: grace + margin)
          logger.critical("still running \(grace + margin) after \(signal): exiting without finishing the drain")
          _exit(1)
        }
      } else {
        logger.critical("second \(signal) during shutdown: exiting now")
        _exit(1)
      }
    }
  }
}
