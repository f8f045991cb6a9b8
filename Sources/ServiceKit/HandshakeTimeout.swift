import NIOCore

/// Closes a connection that has sent nothing within `timeout` of being accepted: a client that
/// opens a socket and never starts HTTP/2 (a half-open or abandoned connection, or a slow
/// attack) would otherwise hold it and its memory forever. Once the first bytes arrive the
/// handler steps aside; HTTP/2 keepalive and the idle timeout take over from there.
public final class HandshakeTimeoutHandler: ChannelInboundHandler, RemovableChannelHandler {
  public typealias InboundIn = ByteBuffer

  private let timeout: TimeAmount
  private var timer: Scheduled<Void>?

  public init(timeout: TimeAmount) {
    self.timeout = timeout
  }

  public func handlerAdded(context: ChannelHandlerContext) {
    let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
    timer = context.eventLoop.scheduleTask(in: timeout) {
      loopBound.value.close(promise: nil)
    }
  }

  public func handlerRemoved(context: ChannelHandlerContext) {
    timer?.cancel()
    timer = nil
  }

  public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    timer?.cancel()
    timer = nil
    context.fireChannelRead(data)
    context.pipeline.syncOperations.removeHandler(self, promise: nil)
  }

  /// The transport hook that puts the handler first in every accepted connection's pipeline.
  public static func installer(timeout: Duration) -> @Sendable (any Channel) -> EventLoopFuture<Void> {
    let amount = TimeAmount(timeout)
    return { channel in
      channel.eventLoop.makeCompletedFuture {
        try channel.pipeline.syncOperations.addHandler(HandshakeTimeoutHandler(timeout: amount), position: .first)
      }
    }
  }
}
