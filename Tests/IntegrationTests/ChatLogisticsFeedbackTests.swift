import Foundation
import GRPCCore
import GRPCProtobuf
import SupportCodec
import SwiftProtobuf
import TestSupport
import Testing

extension MeshTests {
  @Suite("Chat through the gateway")
  struct Chat {
    @Test("start, send, retry, page through history; senders are checked")
    func conversation() async throws {
      try await mesh.withGateway { grpc in
        let chat = Support_Chat_V1_ConversationService.Client(wrapping: grpc)
        let shopper = uniqueID("shopper")
        let start = Support_Chat_V1_StartConversationRequest.with {
          $0.requestID = uniqueID("req"); $0.shopperID = shopper; $0.channel = .web; $0.orderID = "order-1"
          $0.subject = "Where is my parcel?"; $0.initialMessage = "您好, where is my parcel?"
        }
        let conversation = try await chat.startConversation(start)
        // Sequence 1 is the QUEUED status event, 2 the initial message.
        #expect(conversation.status == .queued && conversation.offline && conversation.lastSequence == 2 && conversation.version == 1)
        #expect(conversation.queuePosition >= 1 && conversation.skillGroupID == "general")
        #expect(try await chat.startConversation(start).conversationID == conversation.conversationID)

        let send = Support_Chat_V1_SendMessageRequest.with {
          $0.requestID = uniqueID("msg"); $0.conversationID = conversation.conversationID
          $0.sender = .with { $0.kind = .shopper; $0.id = shopper }; $0.text = "Order 1, please"
        }
        let message = try await chat.sendMessage(send)
        #expect(message.sequence == 3)
        #expect(try await chat.sendMessage(send) == message, "a retry returns the stored message")

        await expectCode(.permissionDenied) {
          try await chat.sendMessage(.with {
            $0.requestID = uniqueID("msg"); $0.conversationID = conversation.conversationID
            $0.sender = .with { $0.kind = .shopper; $0.id = "someone-else" }; $0.text = "hi"
          })
        }
        let queued = await richError(.failedPrecondition) {
          try await chat.sendMessage(.with {
            $0.requestID = uniqueID("msg"); $0.conversationID = conversation.conversationID
            $0.sender = .with { $0.kind = .agent; $0.id = "agent-1" }; $0.text = "hello"
          })
        }
        let queuedInfo = queued?.details.compactMap(\.errorInfo).first
        #expect(queued?.message.contains("QUEUED") == true)
        #expect(queuedInfo?.reason == "CONVERSATION_NOT_ASSIGNED" && queuedInfo?.domain == "support.chat.v1")
        await expectCode(.invalidArgument, containing: "text") {
          try await chat.sendMessage(.with {
            $0.requestID = uniqueID("msg"); $0.conversationID = conversation.conversationID
            $0.sender = .with { $0.kind = .shopper; $0.id = shopper }; $0.text = String(repeating: "长", count: 5_001)
          })
        }
        await expectCode(.notFound) {
          try await chat.sendMessage(.with {
            $0.requestID = uniqueID("msg"); $0.conversationID = UUID().uuidString
            $0.sender = .with { $0.kind = .shopper; $0.id = shopper }; $0.text = "hi"
          })
        }

        // Concurrent senders get consecutive, unique sequences.
        try await withThrowingTaskGroup(of: Void.self) { group in
          for index in 0..<8 {
            group.addTask {
              _ = try await chat.sendMessage(.with {
                $0.requestID = "burst-\(index)"; $0.conversationID = conversation.conversationID
                $0.sender = .with { $0.kind = .shopper; $0.id = shopper }; $0.text = "burst \(index)"
              })
            }
          }
          try await group.waitForAll()
        }
        var sequences: [Int64] = []
        var token = ""
        repeat {
          let page = try await chat.listMessages(.with { $0.conversationID = conversation.conversationID; $0.pageSize = 3; $0.pageToken = token })
          sequences += page.messages.map(\.sequence)
          token = page.nextPageToken
        } while !token.isEmpty
        #expect(sequences == Array(2...11), "messages are events 2 to 11 (1 is the QUEUED status event)")
        let fetched = try await chat.getConversation(.with { $0.conversationID = conversation.conversationID })
        #expect(fetched.lastSequence == 11 && fetched.version == 1, "messages do not change the conversation's version")
        await expectCode(.notFound) { try await chat.listMessages(.with { $0.conversationID = UUID().uuidString }) }
      }
    }
  }

  @Suite("Logistics through the gateway")
  struct Logistics {
    static let address = Support_Logistics_V1_Address.with {
      $0.recipientName = "王芳"; $0.phone = "13800000000"; $0.countryCode = "CN"; $0.province = "浙江"
      $0.city = "杭州"; $0.street = "文三路 1 号"
    }

    @Test("tracking events arriving late, twice and out of order make one clear timeline")
    func timeline() async throws {
      try await mesh.withGateway { grpc in
        let shipments = Support_Logistics_V1_ShipmentService.Client(wrapping: grpc)
        let waybill = uniqueID("SF")
        let create = Support_Logistics_V1_CreateShipmentRequest.with {
          $0.requestID = uniqueID("req"); $0.kind = .return; $0.orderID = "order-7"; $0.ticketID = "ticket-7"
          $0.carrierCode = "SF"; $0.trackingNumber = waybill; $0.items = [.with { $0.orderItemID = "line-1"; $0.quantity = 1 }]
          $0.origin = Self.address; $0.destination = Self.address
        }
        let shipment = try await shipments.createShipment(create)
        #expect(shipment.status == .labelCreated && shipment.items[0].orderID == "order-7" && shipment.hasExpectedDeliveryTime)
        #expect(try await shipments.createShipment(create).shipmentID == shipment.shipmentID)
        var again = create
        again.requestID = uniqueID("req")
        await expectCode(.alreadyExists, containing: waybill) { try await shipments.createShipment(again) }

        let t0 = Date().addingTimeInterval(-3 * 3600)
        func event(_ id: String, _ code: String, _ hours: Double, _ hint: Support_Logistics_V1_ShipmentStatus = .unspecified) -> Support_Logistics_V1_CarrierTrackingEvent {
          .with { $0.carrierEventID = id; $0.carrierStatusCode = code; $0.status = hint; $0.eventTime = Google_Protobuf_Timestamp(date: t0.addingTimeInterval(hours * 3600)); $0.location = "Hangzhou" }
        }
        let first = try await shipments.recordTrackingEvents(.with {
          $0.carrierCode = "SF"; $0.trackingNumber = waybill
          $0.events = [event("e2", "IN_TRANSIT", 1), event("e1", "PICKED_UP", 0), event("e1", "PICKED_UP", 0)]
        })
        #expect(first.acceptedCount == 2 && first.duplicateCount == 1)
        #expect(first.shipment.status == .inTransit)
        let second = try await shipments.recordTrackingEvents(.with {
          $0.carrierCode = "SF"; $0.trackingNumber = waybill
          $0.events = [event("e2", "IN_TRANSIT", 1), event("e4", "x-unknown-code", 2.5), event("e3", "80", 2, .delivered)]
        })
        #expect(second.acceptedCount == 2 && second.duplicateCount == 1)
        let fetched = try await shipments.getShipment(.with { $0.shipmentID = shipment.shipmentID })
        #expect(fetched.timeline.map(\.carrierEventID) == ["e1", "e2", "e3", "e4"], "ordered by event time")
        #expect(fetched.timeline.map(\.status) == [.pickedUp, .inTransit, .delivered, .unspecified])
        #expect(fetched.status == .delivered, "an unmapped later event does not change the status")
        #expect(fetched.deliveredTime == fetched.timeline[2].eventTime && fetched.expectedDeliveryTime == fetched.deliveredTime)
        let replay = try await shipments.recordTrackingEvents(.with {
          $0.carrierCode = "SF"; $0.trackingNumber = waybill; $0.events = [event("e3", "80", 2, .delivered)]
        })
        #expect(replay.acceptedCount == 0 && replay.shipment.version == fetched.version, "a webhook retry changes nothing")

        await expectCode(.notFound) {
          try await shipments.recordTrackingEvents(.with { $0.carrierCode = "SF"; $0.trackingNumber = "nope"; $0.events = [event("x", "DELIVERED", 0)] })
        }
        await expectCode(.invalidArgument, containing: "events[0].event_time") {
          try await shipments.recordTrackingEvents(.with {
            $0.carrierCode = "SF"; $0.trackingNumber = waybill
            $0.events = [.with { $0.carrierEventID = "future"; $0.eventTime = Google_Protobuf_Timestamp(date: Date().addingTimeInterval(86_400)) }]
          })
        }
        await expectCode(.invalidArgument, containing: "events[0].status") {
          try await shipments.recordTrackingEvents(.with {
            $0.carrierCode = "SF"; $0.trackingNumber = waybill; $0.events = [event("e9", "X", 3, .cancelled)]
          })
        }
        await expectCode(.invalidArgument, containing: "events[0].event_time") {
          try await shipments.recordTrackingEvents(.with {
            $0.carrierCode = "SF"; $0.trackingNumber = waybill
            $0.events = [.with { $0.carrierEventID = "ancient"; $0.eventTime = Google_Protobuf_Timestamp(seconds: -9_000_000_000_000_000, nanos: 0) }]
          })
        }
        var unknownCarrier = create
        unknownCarrier.requestID = uniqueID("req")
        unknownCarrier.carrierCode = "NOPE"
        await expectCode(.invalidArgument, containing: "carrier_code") { try await shipments.createShipment(unknownCarrier) }
        var noTicket = create
        noTicket.requestID = uniqueID("req")
        noTicket.ticketID = ""
        await expectCode(.invalidArgument, containing: "ticket_id") { try await shipments.createShipment(noTicket) }
      }
    }
  }

  @Suite("Logistics contract: carrier codes, sequences, exceptions")
  struct LogisticsContract {

    static func create(_ carrier: String, waybill: String) -> Support_Logistics_V1_CreateShipmentRequest {
      .with {
        $0.requestID = uniqueID("req"); $0.kind = .outbound; $0.orderID = uniqueID("order")
        $0.carrierCode = carrier; $0.trackingNumber = waybill; $0.items = [.with { $0.orderItemID = "line-1"; $0.quantity = 1 }]
        $0.destination = Logistics.address
      }
    }

    static func event(_ id: String, _ status: Support_Logistics_V1_ShipmentStatus, at time: Date) -> Support_Logistics_V1_CarrierTrackingEvent {
      .with { $0.carrierEventID = id; $0.status = status; $0.eventTime = Google_Protobuf_Timestamp(date: time); $0.location = "Hangzhou" }
    }

    @Test("carrier codes in any case are stored and returned in lower case; creation is sequence 1")
    func carrierCodesAndSequence() async throws {
      try await mesh.withGateway { grpc in
        let shipments = Support_Logistics_V1_ShipmentService.Client(wrapping: grpc)
        let waybill = uniqueID("SF")
        var create = Self.create("SF", waybill: waybill)
        let shipment = try await shipments.createShipment(create)
        #expect(shipment.carrierCode == "sf" && shipment.lastSequence == 1 && shipment.version == 1)
        create.carrierCode = "sf"
        #expect(try await shipments.createShipment(create).shipmentID == shipment.shipmentID, "the same request in another case is a retry")
        var other = Self.create("Sf", waybill: waybill)
        other.orderID = create.orderID
        let taken = try #require(await richError(.alreadyExists) { try await shipments.createShipment(other) })
        let takenInfo = try #require(taken.details.compactMap(\.errorInfo).first)
        #expect(takenInfo.reason == "WAYBILL_EXISTS" && takenInfo.metadata["shipment_id"] == shipment.shipmentID)
        #expect(takenInfo.metadata["carrier_code"] == "sf" && taken.message.contains(waybill))
        let zto = try await shipments.createShipment(Self.create("zto", waybill: uniqueID("ZTO")))
        #expect(zto.carrierCode == "zto")

        let recorded = try await shipments.recordTrackingEvents(.with {
          $0.carrierCode = "sF"; $0.trackingNumber = waybill
          $0.events = [Self.event("c1", .pickedUp, at: Date().addingTimeInterval(-3600)), Self.event("c2", .inTransit, at: Date().addingTimeInterval(-1800))]
        })
        #expect(recorded.acceptedCount == 2 && recorded.shipment.shipmentID == shipment.shipmentID)
        #expect(recorded.shipment.timeline.map(\.sequence) == [2, 3] && recorded.shipment.lastSequence == 3)
        let fetched = try await shipments.getShipment(.with { $0.shipmentID = shipment.shipmentID })
        #expect(fetched.carrierCode == "sf" && fetched.lastSequence == 3 && fetched.status == .inTransit)
      }
    }

    @Test("failed attempts, LOST and DAMAGED open exceptions; recovery resolves them; a lost parcel has no expected delivery")
    func exceptions() async throws {
      try await mesh.withGateway { grpc in
        let shipments = Support_Logistics_V1_ShipmentService.Client(wrapping: grpc)
        let waybill = uniqueID("SF")
        let shipment = try await shipments.createShipment(Self.create("sf", waybill: waybill))
        let t0 = Date().addingTimeInterval(-6 * 3600)
        func record(_ events: Support_Logistics_V1_CarrierTrackingEvent...) async throws -> Support_Logistics_V1_RecordTrackingEventsResponse {
          try await shipments.recordTrackingEvents(.with { $0.carrierCode = "sf"; $0.trackingNumber = waybill; $0.events = events })
        }

        var result = try await record(Self.event("x1", .pickedUp, at: t0), Self.event("x2", .deliveryFailed, at: t0.addingTimeInterval(3600)))
        var open = result.shipment.openExceptions
        #expect(open.map(\.kind) == [.deliveryFailed] && open[0].state == .open && open[0].occurrenceCount == 1)
        #expect(open[0].carrierEventID == "x2" && open[0].shipmentID == shipment.shipmentID && open[0].carrierCode == "sf")
        #expect(open[0].detectedTime == result.shipment.timeline[1].eventTime)
        #expect(result.shipment.lastSequence == 4, "two events and one exception opened")
        let failedID = open[0].exceptionID

        result = try await record(Self.event("x3", .deliveryFailed, at: t0.addingTimeInterval(2 * 3600)))
        open = result.shipment.openExceptions
        #expect(open.map(\.exceptionID) == [failedID] && open[0].occurrenceCount == 2 && open[0].version == 2)
        #expect(open[0].lastDetectedTime == result.shipment.timeline.last?.eventTime)

        result = try await record(Self.event("x4", .lost, at: t0.addingTimeInterval(3 * 3600)))
        #expect(result.shipment.status == .lost && !result.shipment.hasExpectedDeliveryTime, "a lost parcel is not expected")
        #expect(result.shipment.openExceptions.map(\.kind) == [.deliveryFailed, .lost])
        let fetched = try await shipments.getShipment(.with { $0.shipmentID = shipment.shipmentID })
        #expect(fetched.openExceptions == result.shipment.openExceptions && !fetched.hasExpectedDeliveryTime)

        // A duplicate changes nothing; a later scan recovers the lost parcel.
        let duplicate = try await record(Self.event("x4", .lost, at: t0.addingTimeInterval(3 * 3600)))
        #expect(duplicate.acceptedCount == 0 && duplicate.shipment.openExceptions.count == 2)
        result = try await record(Self.event("x5", .outForDelivery, at: t0.addingTimeInterval(4 * 3600)))
        #expect(result.shipment.openExceptions.map(\.kind) == [.deliveryFailed])
        #expect(result.shipment.status == .outForDelivery && result.shipment.hasExpectedDeliveryTime)

        result = try await record(Self.event("x6", .delivered, at: t0.addingTimeInterval(5 * 3600)))
        #expect(result.shipment.openExceptions.isEmpty && result.shipment.status == .delivered)
        #expect(result.shipment.expectedDeliveryTime == result.shipment.deliveredTime)

        // Damage and carrier reports stay open for an agent.
        let damagedWaybill = uniqueID("SF")
        _ = try await shipments.createShipment(Self.create("sf", waybill: damagedWaybill))
        let damaged = try await shipments.recordTrackingEvents(.with {
          $0.carrierCode = "sf"; $0.trackingNumber = damagedWaybill
          $0.events = [Self.event("d1", .damaged, at: t0), Self.event("d2", .exception, at: t0.addingTimeInterval(60)), Self.event("d3", .inTransit, at: t0.addingTimeInterval(120))]
        })
        #expect(damaged.shipment.openExceptions.map(\.kind) == [.damaged, .carrierReported])
        #expect(damaged.shipment.openExceptions.allSatisfy { $0.detail.contains("Hangzhou") })

        // An event id of this carrier already recorded for another shipment: FAILED_PRECONDITION
        // with its reason code.
        let refused = try #require(await richError(.failedPrecondition) {
          try await shipments.recordTrackingEvents(.with {
            $0.carrierCode = "SF"; $0.trackingNumber = damagedWaybill; $0.events = [Self.event("d9", .inTransit, at: t0), Self.event("x1", .pickedUp, at: t0)]
          })
        })
        let info = try #require(refused.details.compactMap(\.errorInfo).first)
        #expect(info.reason == "CARRIER_EVENT_OF_OTHER_SHIPMENT" && info.domain == "support.logistics.v1")
        #expect(info.metadata["shipment_id"] == shipment.shipmentID && info.metadata["carrier_event_id"] == "x1")
        #expect(refused.details.compactMap(\.preconditionFailure).first?.violations.map(\.subject) == ["events[1].carrier_event_id"])
        let after = try await shipments.getShipment(.with { $0.shipmentID = damaged.shipment.shipmentID })
        #expect(after.timeline.count == 3 && after.version == damaged.shipment.version, "the refused batch changed nothing")
      }
    }
  }

  @Suite("Feedback through the gateway")
  struct Feedback {
    @Test("one answer per survey, scores in range, expired surveys refuse answers; the token comes from CreateSurvey only")
    func surveys() async throws {
      let shopper = uniqueID("shopper")
      let (survey, (short, shortRequest)) = try await mesh.withGateway { grpc in
        let surveys = Support_Feedback_V1_SurveyService.Client(wrapping: grpc)
        let subject = Support_Common_V1_SubjectRef.with { $0.kind = .ticket; $0.id = uniqueID("ticket") }
        let create = Support_Feedback_V1_CreateSurveyRequest.with {
          $0.requestID = uniqueID("req"); $0.subject = subject; $0.shopperID = shopper; $0.agentID = "agent-1"; $0.channel = .app
        }
        let survey = try await surveys.createSurvey(create)
        #expect(survey.status == .pending && !survey.token.isEmpty, "CreateSurvey's response carries the token")
        #expect(try await surveys.createSurvey(create).surveyID == survey.surveyID)
        var second = create
        second.requestID = uniqueID("req")
        await expectCode(.alreadyExists, containing: survey.surveyID) { try await surveys.createSurvey(second) }
        #expect(try await surveys.getSurvey(.with { $0.surveyID = survey.surveyID }).token.isEmpty)

        let shortRequest = Support_Feedback_V1_CreateSurveyRequest.with {
          $0.requestID = uniqueID("req"); $0.subject = .with { $0.kind = .conversation; $0.id = uniqueID("conv") }
          $0.shopperID = shopper; $0.expireTime = Google_Protobuf_Timestamp(date: Date().addingTimeInterval(1.5))
        }
        let short = try await surveys.createSurvey(shortRequest)
        await expectCode(.invalidArgument, containing: "expire_time") {
          try await surveys.createSurvey(.with {
            $0.requestID = uniqueID("req"); $0.shopperID = "s"; $0.subject = .with { $0.kind = .ticket; $0.id = uniqueID("t") }
            $0.expireTime = Google_Protobuf_Timestamp(seconds: Int64.max / 2, nanos: 0)
          })
        }
        await expectCode(.invalidArgument, containing: "subject.kind") {
          try await surveys.createSurvey(.with { $0.requestID = uniqueID("req"); $0.shopperID = "s"; $0.subject = .with { $0.kind = .shipment; $0.id = "x" } })
        }
        return (survey, (short, shortRequest))
      }

      try await mesh.withGateway(as: .shopper(shopper)) { grpc in
        let surveys = Support_Feedback_V1_SurveyService.Client(wrapping: grpc)
        let token = survey.token
        #expect(try await surveys.getSurvey(.with { $0.surveyID = survey.surveyID }).token.isEmpty, "reads never carry the token")
        await expectCode(.invalidArgument, containing: "csat") {
          try await surveys.submitSurveyAnswer(.with { $0.token = token; $0.csat = 6 })
        }
        await expectCode(.invalidArgument, containing: "csat") { try await surveys.submitSurveyAnswer(.with { $0.token = token }) }
        await expectCode(.notFound) { try await surveys.submitSurveyAnswer(.with { $0.token = "no-such-token"; $0.csat = 5 }) }
        let answered = try await surveys.submitSurveyAnswer(.with {
          $0.token = token; $0.csat = 5; $0.nps = 0; $0.comment = "客服很耐心"; $0.tags = ["patient"]
        })
        #expect(answered.status == .answered && answered.answer.csat == 5 && answered.answer.hasNps && answered.answer.nps == 0)
        await expectCode(.alreadyExists) { try await surveys.submitSurveyAnswer(.with { $0.token = token; $0.csat = 1 }) }
        let fetched = try await surveys.getSurvey(.with { $0.surveyID = survey.surveyID })
        #expect(fetched.answer.csat == 5 && fetched.version == 2)

        let shortToken = short.token
        try await Task.sleep(for: .seconds(2))
        let expired = await richError(.failedPrecondition) {
          try await surveys.submitSurveyAnswer(.with { $0.token = shortToken; $0.csat = 4 })
        }
        #expect(expired?.message.contains("expired") == true)
        #expect(expired?.details.compactMap(\.errorInfo).first?.reason == "SURVEY_EXPIRED")
        #expect(try await surveys.getSurveyByToken(.with { $0.token = shortToken }).status == .expired)
      }
      // A retry of the create after its expire_time passed returns the first result, not
      // INVALID_ARGUMENT for an expire_time now in the past.
      try await mesh.withGateway { grpc in
        let again = try await Support_Feedback_V1_SurveyService.Client(wrapping: grpc).createSurvey(shortRequest)
        #expect(again.surveyID == short.surveyID && again.status == .expired)
      }
    }
  }
}
