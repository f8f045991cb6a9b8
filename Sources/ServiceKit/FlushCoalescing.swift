import NIOCore

/// Turns the flushes an HTTP/2 connection gets within one turn of its event loop into one.
///
/// swift-nio-http2 flushes the connection's socket for every stream that flushes, outside a
/// read. A chat message going to 1,000 watch streams is 1,000 stream writes, each its own
/// event-loop task, so without this the process makes one `write` system call per watcher
/// (and its peer one read per watcher). Placed first in a connection's pipeline (next to the
/// socket), the handler defers a flush to the end of the event loop's current batch of tasks:
/// every stream write of that batch leaves in one system call. A lone call waits only for the
/// tasks already queued, at most one hop of its own loop.
///
/// Only small batches wait: a flush passes at once while the socket channel is not writable,
/// or holds more than `coalescedBytesLimit` bytes. Deferring larger batches hung connections
/// (128 streams of 16 KiB answers under h2load, whose windows are 1 GiB: the channel stayed
/// unwritable with nothing left unflushed, and every stream waited for writability; see the
/// h2load test in PlatformTests). Waiting bytes beyond a few packets gain nothing from waiting.
public final class FlushCoalescingHandler: ChannelOutboundHandler, RemovableChannelHandler {
  public typealias OutboundIn = Any

  private var flushPending = false

  public init() {}

  /// Above this many bytes waiting in the socket channel a flush passes at once.
  public static let coalescedBytesLimit = 16 * 1024

  public func flush(context: ChannelHandlerContext) {
    if !context.channel.isWritable
      || ((try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0) > Self.coalescedBytesLimit
    {
      // A deferred flush already queued still runs (and finds little to do).
      context.flush()
      return
    }
    guard !flushPending else { return }
    flushPending = true
    let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
    context.eventLoop.execute {
      let (handler, context) = bound.value
      handler.flushPending = false
      context.flush()
    }
  }

  public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
    // What was written before a close still leaves first.
    if flushPending {
      flushPending = false
      context.flush()
    }
    context.close(mode: mode, promise: promise)
  }

  /// Puts the handler first in an accepted or connected channel's pipeline.
  public static func install(on channel: any Channel) throws {
    try channel.pipeline.syncOperations.addHandler(FlushCoalescingHandler(), position: .first)
  }
}
