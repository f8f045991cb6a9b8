import Foundation
import Metrics
import ServiceKit
import SupportCodec
import SwiftProtobuf
import Synchronization

/// The first reply service level (呼叫之后6秒钟内给予回复): from the first assignment (the
/// shopper's message is already waiting then) to the first message an agent writes, against
/// the skill group's first_response_target. Kept on the conversation and exported as
/// `chat_first_response_seconds{skill_group}` (histogram) and
/// `chat_first_response_total{skill_group,target_met}` (counter).
enum FirstResponseSLA {
  /// At the first assignment: the target the conversation will be measured against.
  static func assigned(_ conversation: inout Conversation, targetMicros: Int64) {
    if !conversation.hasFirstResponseTarget { conversation.firstResponseTarget = .microseconds(targetMicros) }
  }

  /// An agent's message is stored: if it is the first reply, the service level is measured.
  /// Returns whether it was (then `observe` once the write committed).
  @discardableResult
  static func replied(_ conversation: inout Conversation, at time: Google_Protobuf_Timestamp) -> Bool {
    guard !conversation.hasFirstResponseTime, conversation.hasFirstAssignTime else { return false }
    conversation.firstResponseTime = .between(conversation.firstAssignTime, time)
    conversation.firstResponseTargetMet = conversation.hasFirstResponseTarget
      && conversation.firstResponseTime.microseconds <= conversation.firstResponseTarget.microseconds
    return true
  }

  /// Exports the measured first reply of a committed conversation.
  static func observe(_ conversation: Conversation) {
    guard conversation.hasFirstResponseTime else { return }
    let group = conversation.skillGroupID
    Metrics.Timer(label: "chat_first_response_seconds", dimensions: [("skill_group", group)])
      .recordNanoseconds(conversation.firstResponseTime.microseconds * 1000)
    Counter(label: "chat_first_response_total", dimensions: [("skill_group", group), ("target_met", "\(conversation.firstResponseTargetMet)")])
      .increment()
  }
}

/// The conversation as the first agent reply left it, set by SendMessage's `decide` (which may
/// run in another call's task: MessageBatches.swift) and exported once the write committed.
final class MeasuredFirstReply: Sendable {
  let conversation = Mutex<Conversation?>(nil)
}
