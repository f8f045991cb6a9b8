import Foundation
import GRPCCore
import GRPCProtobuf
import SupportCodec
import SwiftProtobuf
import TestSupport
import Testing

extension MeshTests {
  @Suite("Tickets through the gateway")
  struct Tickets {
    typealias Client = Support_Tickets_V1_TicketService.Client

    static func returnRequest(shopper: String, order: String = uniqueID("order"), item: String = "line-1") -> Support_Tickets_V1_CreateTicketRequest {
      .with {
        $0.requestID = uniqueID("req")
        $0.type = .returnAndRefund
        $0.category = .productQuality
        $0.shopperID = shopper
        $0.items = [.with {
          $0.orderID = order; $0.orderItemID = item; $0.sku = "SKU-9"; $0.quantity = 1
          $0.unitPrice = .with { $0.amountMinor = 9_900; $0.currencyCode = "CNY" }
        }]
        $0.title = "Cracked screen"
        $0.description_p = "The screen arrived cracked."
        $0.evidence = [.with { $0.kind = .photo; $0.uri = "s3://evidence/crack.jpg"; $0.mediaType = "image/jpeg" }]
        $0.deliveredTime = daysAgo(2)
        $0.requestedRefund = .with { $0.amountMinor = 9_900; $0.currencyCode = "CNY" }
        $0.channel = .app
      }
    }

    @Test("create is idempotent on request_id; get returns it; unknown ids are NOT_FOUND")
    func createGet() async throws {
      try await mesh.withGateway { grpc in
        let tickets = Client(wrapping: grpc)
        let request = Self.returnRequest(shopper: uniqueID("shopper"))
        let created = try await tickets.createTicket(request)
        #expect(created.status == .submitted && created.version == 1 && created.priority == .normal)
        #expect(created.sla.resolutionDueTime.date.timeIntervalSince(created.createTime.date) == 72 * 3600)
        #expect(created.sla.firstResponseDueTime.date.timeIntervalSince(created.createTime.date) == 24 * 3600)
        #expect(created.eligibility.first?.policyWindow == .qualityWarranty)
        #expect(created.eligibility.first?.returnShippingPayer == .seller)

        let retried = try await tickets.createTicket(request)
        #expect(retried == created, "a retry returns the first result unchanged")

        var changed = request
        changed.title = "Something else"
        await expectCode(.alreadyExists, containing: created.ticketID) { try await tickets.createTicket(changed) }

        let fetched = try await tickets.getTicket(.with { $0.ticketID = created.ticketID })
        #expect(fetched == created)
        await expectCode(.notFound) { try await tickets.getTicket(.with { $0.ticketID = UUID().uuidString }) }
        await expectCode(.notFound) { try await tickets.getTicket(.with { $0.ticketID = "not-a-ticket-id" }) }
        await expectCode(.invalidArgument, containing: "ticket_id") { try await tickets.getTicket(.init()) }
      }
    }

    @Test("a retry after the return window closed returns the case it filed, not NOT_ELIGIBLE; an agent's override reason is in its first history entry")
    func retryAfterWindow() async throws {
      try await mesh.withGateway(as: .agent("agent-retry")) { grpc in
        let tickets = Client(wrapping: grpc)
        var request = Self.returnRequest(shopper: uniqueID("shopper"))
        request.category = .transaction
        request.goodsCondition = .intact
        // The no-reason return's 7-day window ends 2 s from now.
        request.deliveredTime = Google_Protobuf_Timestamp(date: Date().addingTimeInterval(-7 * 86_400 + 2))
        let created = try await tickets.createTicket(request)
        try await Task.sleep(for: .milliseconds(2500))
        let retried = try await tickets.createTicket(request)
        #expect(retried.ticketID == created.ticketID)
        var fresh = request
        fresh.requestID = uniqueID("req")
        let otherOrder = uniqueID("order")
        for index in fresh.items.indices { fresh.items[index].orderID = otherOrder }
        let refused = await richError(.failedPrecondition) { try await tickets.createTicket(fresh) }
        #expect(refused?.details.compactMap(\.errorInfo).first?.reason == "NOT_ELIGIBLE", "a new case is checked")

        fresh.requestID = uniqueID("req")
        fresh.eligibilityOverrideReason = "goodwill: a loyal shopper"
        let overridden = try await tickets.createTicket(fresh)
        let history = try await tickets.listTicketHistory(.with { $0.ticketID = overridden.ticketID })
        #expect(history.entries.first?.kind == .created && history.entries.first?.reason == "goodwill: a loyal shopper")
      }
    }

    @Test("concurrent retries of one create all get the same ticket")
    func concurrentRetries() async throws {
      try await mesh.withGateway { grpc in
        let tickets = Client(wrapping: grpc)
        let request = Self.returnRequest(shopper: uniqueID("shopper"))
        let ids = try await withThrowingTaskGroup(of: String.self) { group in
          for _ in 0..<6 { group.addTask { try await tickets.createTicket(request).ticketID } }
          return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(ids.count == 1)
        let listed = try await tickets.listTickets(.with { $0.shopperID = request.shopperID })
        #expect(listed.tickets.count == 1)
      }
    }

    @Test("forged page tokens and absurd times are INVALID_ARGUMENT, never a crash")
    func hostileInput() async throws {
      try await mesh.withGateway { grpc in
        let tickets = Client(wrapping: grpc)
        // A token with the right filter fingerprint but an absurd key (the fingerprint of "no
        // filters" is public: FNV-1a of nothing).
        func token(_ json: String) -> String {
          Data(json.utf8).base64EncodedString().replacingOccurrences(of: "=", with: "")
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        }
        for forged in [
          token(#"{"key":-9223372036854775808,"id":"\#(UUID().uuidString)","filter":"cbf29ce484222325"}"#),
          token(#"{"key":1790000000000000,"id":"not-a-uuid","filter":"cbf29ce484222325"}"#),
        ] {
          await expectCode(.invalidArgument, containing: "page_token") { try await tickets.listTickets(.with { $0.pageToken = forged }) }
        }
        var request = Self.returnRequest(shopper: uniqueID("shopper"))
        request.deliveredTime = Google_Protobuf_Timestamp(seconds: -9_000_000_000_000_000, nanos: 0)
        await expectCode(.invalidArgument, containing: "delivered_time") { try await tickets.createTicket(request) }
        // Still serving.
        _ = try await tickets.listTickets(.init())
      }
    }

    @Test("bad input is INVALID_ARGUMENT naming the field, and changes nothing")
    func invalidInput() async throws {
      try await mesh.withGateway { grpc in
        let tickets = Client(wrapping: grpc)
        let shopper = uniqueID("shopper")
        var request = Self.returnRequest(shopper: shopper)
        request.type = .unspecified
        await expectCode(.invalidArgument, containing: "type") { try await tickets.createTicket(request) }
        request = Self.returnRequest(shopper: shopper)
        request.items[0].orderID = ""
        await expectCode(.invalidArgument, containing: "items[0].order_id") { try await tickets.createTicket(request) }
        request = Self.returnRequest(shopper: shopper)
        request.requestedRefund.currencyCode = "usd"
        await expectCode(.invalidArgument, containing: "requested_refund.currency_code") { try await tickets.createTicket(request) }
        request = Self.returnRequest(shopper: shopper)
        request.deliveredTime = Google_Protobuf_Timestamp(date: Date().addingTimeInterval(86_400))
        await expectCode(.invalidArgument, containing: "delivered_time") { try await tickets.createTicket(request) }
        request = Self.returnRequest(shopper: shopper)
        request.items = []
        await expectCode(.invalidArgument, containing: "items") { try await tickets.createTicket(request) }
        let listed = try await tickets.listTickets(.with { $0.shopperID = shopper })
        #expect(listed.tickets.isEmpty, "nothing was written")
      }
    }

    @Test("eligibility windows decide: 7-day no-reason return, override by an agent, one open case per item")
    func eligibility() async throws {
      try await mesh.withGateway { grpc in
        let tickets = Client(wrapping: grpc)
        var late = Self.returnRequest(shopper: uniqueID("shopper"))
        late.category = .transaction
        late.deliveredTime = daysAgo(10)
        late.goodsCondition = .intact
        await expectCode(.failedPrecondition, containing: "7-day") { try await tickets.createTicket(late) }

        var inTime = late
        inTime.requestID = uniqueID("req")
        inTime.deliveredTime = daysAgo(3)
        let created = try await tickets.createTicket(inTime)
        #expect(created.eligibility[0].policyWindow == .noReasonReturn)
        #expect(created.eligibility[0].returnShippingPayer == .shopper)

        var second = inTime
        second.requestID = uniqueID("req")
        await expectCode(.alreadyExists, containing: created.ticketID) { try await tickets.createTicket(second) }
        let overlap = try #require(await richError(.alreadyExists) { try await tickets.createTicket(second) })
        let overlapInfo = try #require(overlap.details.compactMap(\.errorInfo).first)
        #expect(overlapInfo.reason == "OPEN_CASE_EXISTS" && overlapInfo.metadata["ticket_id"] == created.ticketID)
        // CheckEligibility says what CreateTicket would: the item has an open case; a complaint
        // about it may still be filed beside it.
        let covered = try await tickets.checkEligibility(.with {
          $0.type = .exchange; $0.category = .transaction; $0.deliveredTime = daysAgo(3); $0.goodsCondition = .intact
          $0.item = inTime.items[0]
        })
        #expect(!covered.eligible && covered.reasons == [.openCaseExists] && covered.reasonMessages[0].contains(created.ticketID))
        var complaint = inTime
        complaint.requestID = uniqueID("req")
        complaint.type = .complaint
        complaint.clearRequestedRefund()
        #expect(try await tickets.createTicket(complaint).status == .submitted)

        var overridden = late
        overridden.requestID = uniqueID("req")
        overridden.items[0].orderID = uniqueID("order")
        overridden.eligibilityOverrideReason = "VIP goodwill, approved by supervisor"
        overridden.actor = .with { $0.kind = .agent; $0.id = "agent-1" }
        let filed = try await tickets.createTicket(overridden)
        #expect(filed.eligibility[0].eligible == false && filed.createdBy.id == "agent-1")

        let check = try await tickets.checkEligibility(.with {
          $0.type = .exchange; $0.category = .transaction; $0.deliveredTime = daysAgo(20); $0.goodsCondition = .intact
          $0.item = .with { $0.orderID = uniqueID("order") }
        })
        #expect(!check.eligible && check.policyWindow == .exchange && check.reasons == [.windowExpired])
        let notDelivered = try await tickets.checkEligibility(.with {
          $0.type = .refundOnly; $0.category = .logistics; $0.item = .with { $0.orderID = uniqueID("order") }
        })
        #expect(notDelivered.eligible && notDelivered.policyWindow == .notDelivered)
      }
    }

    @Test("a refused create names its rules in machine-readable details; bad input names the field in BadRequest")
    func refusalDetails() async throws {
      try await mesh.withGateway { grpc in
        let tickets = Client(wrapping: grpc)
        var late = Self.returnRequest(shopper: uniqueID("shopper"))
        late.category = .transaction
        late.deliveredTime = daysAgo(10)
        late.goodsCondition = .damaged
        let refused = try #require(await richError(.failedPrecondition) { try await tickets.createTicket(late) })
        let info = try #require(refused.details.compactMap(\.errorInfo).first)
        #expect(info.reason == "NOT_ELIGIBLE" && info.domain == "support.tickets.v1")
        #expect(info.metadata["reasons"] == "WINDOW_EXPIRED,GOODS_NOT_RESALEABLE")
        let violations = try #require(refused.details.compactMap(\.preconditionFailure).first).violations
        #expect(violations.map(\.type) == ["WINDOW_EXPIRED", "GOODS_NOT_RESALEABLE"])
        #expect(violations.map(\.subject) == ["items[0]", "items[0]"])
        #expect(refused.message.contains("WINDOW_EXPIRED"))

        // 20 years after delivery a quality claim is outside the warranty, not an expired window.
        var ancient = Self.returnRequest(shopper: uniqueID("shopper"))
        ancient.deliveredTime = daysAgo(20 * 365)
        let outside = try #require(await richError(.failedPrecondition) { try await tickets.createTicket(ancient) })
        #expect(outside.details.compactMap(\.errorInfo).first?.metadata["reasons"] == "OUTSIDE_WARRANTY")
        #expect(outside.details.compactMap(\.preconditionFailure).first?.violations.map(\.type) == ["OUTSIDE_WARRANTY"])

        var bad = Self.returnRequest(shopper: late.shopperID)
        bad.items[0].orderID = ""
        let invalid = try #require(await richError(.invalidArgument) { try await tickets.createTicket(bad) })
        #expect(invalid.details.compactMap(\.badRequest).first?.violations.map(\.field) == ["items[0].order_id"])
        #expect(try await tickets.listTickets(.with { $0.shopperID = late.shopperID }).tickets.isEmpty, "nothing was written")
      }
    }

    @Test("description is at most 5000 characters")
    func descriptionLimit() async throws {
      try await mesh.withGateway { grpc in
        let tickets = Client(wrapping: grpc)
        var request = Self.returnRequest(shopper: uniqueID("shopper"))
        request.description_p = String(repeating: "坏", count: 5_001)
        let invalid = try #require(await richError(.invalidArgument) { try await tickets.createTicket(request) })
        #expect(invalid.details.compactMap(\.badRequest).first?.violations.map(\.field) == ["description"])
        request.description_p = String(repeating: "坏", count: 5_000)
        #expect(try await tickets.createTicket(request).description_p.count == 5_000)
      }
    }

    @Test("a complaint or inquiry without items has no eligibility entries; with items one per item")
    func caseWithoutItems() async throws {
      try await mesh.withGateway { grpc in
        let tickets = Client(wrapping: grpc)
        for type in [Support_Tickets_V1_TicketType.complaint, .inquiry] {
          let created = try await tickets.createTicket(.with {
            $0.requestID = uniqueID("req"); $0.type = type; $0.category = .serviceAttitude
            $0.shopperID = uniqueID("shopper"); $0.title = "Rude agent"
          })
          #expect(created.items.isEmpty && created.eligibility.isEmpty)
        }
        let about = try await tickets.createTicket(.with {
          $0.requestID = uniqueID("req"); $0.type = .complaint; $0.category = .logistics; $0.shopperID = uniqueID("shopper")
          $0.title = "Late"; $0.items = [.with { $0.orderID = "o-1"; $0.orderItemID = "a" }, .with { $0.orderID = "o-1"; $0.orderItemID = "b" }]
        })
        #expect(about.eligibility.map(\.item.orderItemID) == ["a", "b"])
        #expect(about.eligibility.allSatisfy { $0.eligible && $0.policyWindow == .none })
      }
    }

    @Test("CheckEligibility refuses times in the future beyond the 5-minute clock skew, naming the field")
    func futureTimes() async throws {
      try await mesh.withGateway { grpc in
        let tickets = Client(wrapping: grpc)
        let base = Support_Tickets_V1_CheckEligibilityRequest.with {
          $0.type = .returnAndRefund; $0.category = .transaction; $0.goodsCondition = .intact
          $0.item = .with { $0.orderID = "o" }; $0.deliveredTime = daysAgo(1)
        }
        let hourAhead = Google_Protobuf_Timestamp(date: Date().addingTimeInterval(3600))
        var request = base
        request.deliveredTime = hourAhead
        var invalid = try #require(await richError(.invalidArgument) { try await tickets.checkEligibility(request) })
        #expect(invalid.details.compactMap(\.badRequest).first?.violations.map(\.field) == ["delivered_time"])
        request = base
        request.checkTime = hourAhead
        invalid = try #require(await richError(.invalidArgument) { try await tickets.checkEligibility(request) })
        #expect(invalid.details.compactMap(\.badRequest).first?.violations.map(\.field) == ["check_time"])
        request = base
        request.checkTime = daysAgo(3)
        await expectCode(.invalidArgument, containing: "delivered_time") { try await tickets.checkEligibility(request) }

        // Within the skew, and in the past, are answers.
        request = base
        request.deliveredTime = Google_Protobuf_Timestamp(date: Date().addingTimeInterval(60))
        request.checkTime = Google_Protobuf_Timestamp(date: Date().addingTimeInterval(120))
        #expect(try await tickets.checkEligibility(request).eligible)
        request = base
        request.deliveredTime = daysAgo(30)
        request.checkTime = daysAgo(25)
        #expect(try await tickets.checkEligibility(request).eligible, "within the 7 days as of check_time")
        request.checkTime = daysAgo(20)
        #expect(try await tickets.checkEligibility(request).reasons == [.windowExpired])
      }
    }

    @Test("quality warranty: no window_length, the warranty end as deadline, OUTSIDE_WARRANTY after it")
    func qualityWarranty() async throws {
      try await mesh.withGateway { grpc in
        let tickets = Client(wrapping: grpc)
        let fresh = try await tickets.checkEligibility(.with {
          $0.type = .returnAndRefund; $0.category = .productQuality; $0.goodsCondition = .defective
          $0.item = .with { $0.orderID = "o" }; $0.deliveredTime = daysAgo(100)
        })
        #expect(fresh.eligible && fresh.policyWindow == .qualityWarranty && !fresh.hasWindowLength && fresh.hasDeadlineTime)
        #expect(fresh.returnShippingPayer == .seller && fresh.shippingRefundable)
        let old = try await tickets.checkEligibility(.with {
          $0.type = .repair; $0.category = .notAsDescribed
          $0.item = .with { $0.orderID = "o" }; $0.deliveredTime = daysAgo(20 * 365)
        })
        #expect(!old.eligible && old.policyWindow == .qualityWarranty && !old.hasWindowLength)
        #expect(old.reasons == [.outsideWarranty])
        let exchange = try await tickets.checkEligibility(.with {
          $0.type = .exchange; $0.category = .transaction; $0.goodsCondition = .intact
          $0.item = .with { $0.orderID = "o" }; $0.deliveredTime = daysAgo(1)
        })
        #expect(exchange.eligible && exchange.windowLength.seconds == 15 * 86_400, "policy windows keep their length")
        let created = try await tickets.createTicket(Self.returnRequest(shopper: uniqueID("shopper")))
        #expect(created.eligibility[0].policyWindow == .qualityWarranty && !created.eligibility[0].hasWindowLength)
      }
    }

    @Test("refund only after delivery: logistics and transaction problems only")
    func refundOnlyAfterDelivery() async throws {
      try await mesh.withGateway { grpc in
        let tickets = Client(wrapping: grpc)
        func check(_ category: Support_Tickets_V1_ProblemCategory) async throws -> Support_Tickets_V1_CheckEligibilityResponse {
          try await tickets.checkEligibility(.with {
            $0.type = .refundOnly; $0.category = category; $0.goodsCondition = .opened
            $0.item = .with { $0.orderID = "o" }; $0.deliveredTime = daysAgo(3)
          })
        }
        for category in [Support_Tickets_V1_ProblemCategory.logistics, .transaction] {
          let answer = try await check(category)
          #expect(answer.eligible && answer.policyWindow == .qualityWarranty && answer.returnShippingPayer == .none, "\(category)")
        }
        for category in [Support_Tickets_V1_ProblemCategory.productQuality, .notAsDescribed, .serviceAttitude, .technicalSupport] {
          let answer = try await check(category)
          #expect(!answer.eligible && answer.reasons == [.typeNotAllowed], "\(category)")
        }
        // Filing follows the same rules: an overcharge is accepted, a delivered quality problem
        // is refused with TYPE_NOT_ALLOWED.
        var overcharge = Self.returnRequest(shopper: uniqueID("shopper"))
        overcharge.type = .refundOnly
        overcharge.category = .transaction
        let filed = try await tickets.createTicket(overcharge)
        #expect(filed.eligibility[0].eligible)
        var quality = Self.returnRequest(shopper: uniqueID("shopper"))
        quality.type = .refundOnly
        let refused = try #require(await richError(.failedPrecondition) { try await tickets.createTicket(quality) })
        #expect(refused.details.compactMap(\.errorInfo).first?.metadata["reasons"] == "TYPE_NOT_ALLOWED")
      }
    }

    @Test("list filters and cursor pages: newest first, no duplicates, tokens bound to filters")
    func listing() async throws {
      try await mesh.withGateway { grpc in
        let tickets = Client(wrapping: grpc)
        let shopper = uniqueID("shopper")
        var ids: [String] = []
        for index in 0..<5 {
          var request = Self.returnRequest(shopper: shopper)
          if index == 4 { request.type = .complaint; request.category = .serviceAttitude; request.clearRequestedRefund() }
          ids.append(try await tickets.createTicket(request).ticketID)
        }
        var seen: [String] = []
        var token = ""
        repeat {
          let page = try await tickets.listTickets(.with { $0.shopperID = shopper; $0.pageSize = 2; $0.pageToken = token })
          #expect(page.tickets.count <= 2)
          seen += page.tickets.map(\.ticketID)
          token = page.nextPageToken
        } while !token.isEmpty
        #expect(seen == ids.reversed(), "newest first, every ticket once")

        let complaints = try await tickets.listTickets(.with { $0.shopperID = shopper; $0.types = [.complaint] })
        #expect(complaints.tickets.map(\.ticketID) == [ids[4]])
        let submitted = try await tickets.listTickets(.with { $0.shopperID = shopper; $0.statuses = [.submitted, .underReview] })
        #expect(submitted.tickets.count == 5)
        let closed = try await tickets.listTickets(.with { $0.shopperID = shopper; $0.statuses = [.closed] })
        #expect(closed.tickets.isEmpty)

        let first = try await tickets.getTicket(.with { $0.ticketID = ids[0] })
        let byOrder = try await tickets.listTickets(.with { $0.orderID = first.items[0].orderID })
        #expect(byOrder.tickets.map(\.ticketID) == [ids[0]])
        let breached = try await tickets.listTickets(.with { $0.shopperID = shopper; $0.slaBreachedOnly = true })
        #expect(breached.tickets.isEmpty, "fresh tickets are within their SLA")

        let page = try await tickets.listTickets(.with { $0.shopperID = shopper; $0.pageSize = 1 })
        await expectCode(.invalidArgument, containing: "page_token") {
          try await tickets.listTickets(.with { $0.shopperID = "someone-else"; $0.pageToken = page.nextPageToken })
        }
        await expectCode(.invalidArgument, containing: "page_size") { try await tickets.listTickets(.with { $0.pageSize = 501 }) }
      }
    }

  }
}

/// Runs `body`, expects it to fail with `code`, and returns the google.rpc.Status details the
/// error carries in grpc-status-details-bin (nil, with an issue recorded, when there are none).
func richError<T>(
  _ code: RPCError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> T
) async -> GoogleRPCStatus? {
  do {
    let value = try await body()
    Issue.record("expected \(code), got \(value)", sourceLocation: sourceLocation)
  } catch let error as RPCError {
    #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
    do {
      guard let status = try error.unpackGoogleRPCStatus() else {
        Issue.record("\(error) carries no grpc-status-details-bin", sourceLocation: sourceLocation)
        return nil
      }
      #expect(status.code == code && status.message == error.message, sourceLocation: sourceLocation)
      return status
    } catch {
      Issue.record("undecodable status details: \(error)", sourceLocation: sourceLocation)
    }
  } catch {
    Issue.record("expected RPCError \(code), got \(error)", sourceLocation: sourceLocation)
  }
  return nil
}
