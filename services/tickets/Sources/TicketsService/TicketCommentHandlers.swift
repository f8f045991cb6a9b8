import Foundation
import GRPCCore
import Logging
import ServiceKit
import SupportCodec

/// AddComment, ListComments and ListTicketHistory.
extension TicketHandlers {
  @Sendable func addComment(_ request: Support_Tickets_V1_AddCommentRequest) async throws -> Comment {
    try Validate.requestID(request.requestID)
    let id = try Self.ticketID(request.ticketID)
    try Self.validateVersion(request.expectedVersion)
    try Validate.specified(request.visibility, "visibility")
    try Validate.maxLength(request.body, "body", 10_000)
    try Validate.maxCount(request.attachments, "attachments", 20)
    for (index, attachment) in request.attachments.enumerated() { try Validate.attachment(attachment, "attachments[\(index)]") }
    if request.body.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty && request.attachments.isEmpty {
      throw ServiceError.invalidArgument("body", "is required unless attachments are given")
    }
    if request.awaitingShopper && request.visibility != .publicReply {
      throw ServiceError.invalidArgument("awaiting_shopper", "applies only to a PUBLIC_REPLY")
    }
    if request.proposesSolution && request.visibility != .publicReply {
      throw ServiceError.invalidArgument("proposes_solution", "applies only to a PUBLIC_REPLY")
    }
    if request.hasActor { try Self.validateActor(request.actor) }
    let caller = try Permissions.caller()
    if caller.role == .shopper {
      if request.visibility == .internalNote { throw Permissions.denied("shoppers may not write internal notes") }
      if request.awaitingShopper { throw ServiceError.invalidArgument("awaiting_shopper", "is set by agents asking the shopper for something") }
      if request.proposesSolution { throw ServiceError.invalidArgument("proposes_solution", "is set by agents proposing a solution") }
    }
    let author = try Permissions.actor(claimed: request.hasActor ? request.actor : nil)
    let now = Date.nowMicroseconds
    let outcome = try await store.addComment(id, requestID: request.requestID, fingerprint: Fingerprint.of(request), logger: log) { ticket in
      guard caller.isStaff || caller.subject == ticket.shopperID else {
        throw Permissions.denied("a shopper may only comment on their own cases")
      }
      try Self.checkVersion(request.expectedVersion, of: ticket)
      var comment = Comment()
      comment.commentID = UUID().uuidString.lowercased()
      comment.ticketID = ticket.ticketID
      comment.visibility = request.visibility
      comment.author = author
      comment.body = request.body
      comment.attachments = request.attachments
      comment.awaitingShopper = request.awaitingShopper
      comment.proposesSolution = request.proposesSolution
      comment.createTime = now.timestamp
      // Comments change the case only through its service levels.
      var next = ticket
      let person = caller.role == .agent || caller.role == .supervisor
      if person && request.visibility == .publicReply && !next.sla.hasFirstResponseTime {
        next.sla.firstResponseTime = now.timestamp
      }
      // A complaint's reply clock is met by a person's public reply proposing a solution.
      if person && request.proposesSolution { next.meetSlaClock(.complaintReply, at: now) }
      if caller.isStaff && request.awaitingShopper { next.pauseSLA(at: now) }
      if caller.role == .shopper && next.shopperEndsPause { next.resumeSLA(at: now) }
      if next != ticket {
        next.version = ticket.version + 1
        next.updateTime = now.timestamp
      }
      var entry = Self.entry(.commented, ticket: next, actor: author, reason: "", now: now)
      entry.comment = .with {
        $0.commentID = comment.commentID
        $0.visibility = comment.visibility
      }
      return (next, comment, entry)
    }
    switch outcome {
    case .added(let comment, _), .retried(let comment): return comment
    }
  }

  @Sendable func listComments(_ request: Support_Tickets_V1_ListCommentsRequest) async throws -> Support_Tickets_V1_ListCommentsResponse {
    let id = try Self.ticketID(request.ticketID)
    let pageSize = try PageCursor.pageSize(request.pageSize)
    for (index, visibility) in request.visibilities.enumerated() { try Validate.specified(visibility, "visibilities[\(index)]") }
    let caller = try Permissions.caller()
    var visibilities = request.visibilities.isEmpty ? [.publicReply, .internalNote] : request.visibilities
    if caller.role == .shopper {
      if request.visibilities.contains(.internalNote) { throw Permissions.denied("shoppers may not read internal notes") }
      visibilities = [.publicReply]
    }
    var filter = request
    filter.pageSize = 0
    filter.pageToken = ""
    let filterKey = try Fingerprint.of(filter)
    var after: (micros: Int64, id: UUID)?
    if let cursor = try PageCursor.decode(request.pageToken, filter: filterKey, validKeys: Validate.timestampSeconds.lowerBound * 1_000_000...Validate.timestampSeconds.upperBound * 1_000_000) {
      guard let commentID = UUID(uuidString: cursor.id) else { throw ServiceError.invalidArgument("page_token", "is not a token this service issued") }
      after = (cursor.key, commentID)
    }
    guard let ticket = try await store.get(id, logger: log), try Permissions.mayRead(shopperID: ticket.shopperID) else {
      throw ServiceError.notFound("ticket", request.ticketID)
    }
    var rows = try await store.comments(id, visibilities: visibilities, after: after, limit: pageSize + 1, logger: log)
    var response = Support_Tickets_V1_ListCommentsResponse()
    if rows.count > pageSize {
      rows.removeLast(rows.count - pageSize)
      let last = rows[rows.count - 1]
      response.nextPageToken = PageCursor(key: last.micros, id: last.comment.commentID, filter: filterKey).token
    }
    response.comments = rows.map(\.comment)
    return response
  }

  @Sendable func listTicketHistory(_ request: Support_Tickets_V1_ListTicketHistoryRequest) async throws -> Support_Tickets_V1_ListTicketHistoryResponse {
    let id = try Self.ticketID(request.ticketID)
    let pageSize = try PageCursor.pageSize(request.pageSize)
    try Permissions.requireStaff("read a case's history (shoppers see its status and public replies)")
    let filterKey = id.uuidString.lowercased()
    let cursor = try PageCursor.decode(request.pageToken, filter: filterKey, validKeys: 1...Int64.max)
    guard try await store.get(id, logger: log) != nil else { throw ServiceError.notFound("ticket", request.ticketID) }
    var entries = try await store.history(id, afterSequence: cursor?.key ?? 0, limit: pageSize + 1, logger: log)
    var response = Support_Tickets_V1_ListTicketHistoryResponse()
    if entries.count > pageSize {
      entries.removeLast(entries.count - pageSize)
      response.nextPageToken = PageCursor(key: entries[entries.count - 1].sequence, id: "", filter: filterKey).token
    }
    response.entries = entries
    return response
  }
}
