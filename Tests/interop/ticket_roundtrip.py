#!/usr/bin/env python3
"""Cross-language wire check: a gRPC client nobody here wrote (Python grpcio, code generated
from proto/ at test time) creates and reads a ticket through the gateway.

Usage: ticket_roundtrip.py HOST:PORT API_KEY_FILE    (exit 0 on success; prints what it checked)
API_KEY_FILE holds an API key (./mesh run makes .state/secrets/admin-api-key).
"""
import importlib.util
import os
import sys
import tempfile
import uuid

from grpc_tools import protoc
import grpc


def generate(out_dir: str) -> None:
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto")
    protos = []
    for base, _, files in os.walk(root):
        protos += [os.path.relpath(os.path.join(base, f), root) for f in files if f.endswith(".proto")]
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    args = ["protoc", f"-I{root}", f"-I{include}", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}"] + sorted(protos)
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")


def main() -> int:
    target = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:7700"
    key_file = sys.argv[2] if len(sys.argv) > 2 else ".state/secrets/admin-api-key"
    with open(key_file) as f:
        auth = [("x-api-key", f.read().strip())]
    with tempfile.TemporaryDirectory() as out:
        generate(out)
        sys.path.insert(0, out)
        from google.protobuf import timestamp_pb2
        # grpc/health/v1 shares its top-level name with the grpc library: load it by path.
        spec = importlib.util.spec_from_file_location("health_pb2", os.path.join(out, "grpc", "health", "v1", "health_pb2.py"))
        health_pb2 = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(health_pb2)
        from support.common.v1 import common_pb2
        from support.tickets.v1 import tickets_pb2, tickets_pb2_grpc

        channel = grpc.insecure_channel(target)
        grpc.channel_ready_future(channel).result(timeout=10)

        check = channel.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
            response_deserializer=health_pb2.HealthCheckResponse.FromString,
        )
        status = check(health_pb2.HealthCheckRequest(service="support.tickets.v1.TicketService"), timeout=5)
        assert status.status == health_pb2.HealthCheckResponse.SERVING, status

        # A call whose headers are over 16 KiB is refused alone (RESOURCE_EXHAUSTED); the
        # connection goes on. (grpc-swift's client cannot send such a call, hence the check here.)
        try:
            check(health_pb2.HealthCheckRequest(service="support.tickets.v1.TicketService"), timeout=5,
                  metadata=[("x-big", "x" * 20000)])
            raise AssertionError("a call with 20 KB of headers must fail")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "16384" in error.details(), error
        status = check(health_pb2.HealthCheckRequest(service="support.tickets.v1.TicketService"), timeout=5)
        assert status.status == health_pb2.HealthCheckResponse.SERVING, status
        print("a call with oversized headers was refused alone")

        tickets = tickets_pb2_grpc.TicketServiceStub(channel)
        try:
            tickets.GetTicket(tickets_pb2.GetTicketRequest(ticket_id=str(uuid.uuid4())), timeout=10)
            raise AssertionError("a call without credentials must fail")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED, error

        delivered = timestamp_pb2.Timestamp()
        delivered.GetCurrentTime()
        delivered.seconds -= 2 * 86400
        request = tickets_pb2.CreateTicketRequest(
            request_id=f"py-{uuid.uuid4()}",
            type=tickets_pb2.TICKET_TYPE_RETURN_AND_REFUND,
            category=tickets_pb2.PROBLEM_CATEGORY_PRODUCT_QUALITY,
            shopper_id="shopper-py",
            items=[common_pb2.OrderItemRef(order_id=f"order-{uuid.uuid4()}", order_item_id="line-1", sku="SKU-1", quantity=1,
                                           unit_price=common_pb2.Money(amount_minor=19900, currency_code="CNY"))],
            title="屏幕有坏点 (dead pixels)",
            description="Arrived with dead pixels",
            delivered_time=delivered,
            requested_refund=common_pb2.Money(amount_minor=19900, currency_code="CNY"),
            channel=common_pb2.CHANNEL_APP,
        )
        metadata = auth + [("x-request-id", f"py-trace-{uuid.uuid4()}")]
        created, call = tickets.CreateTicket.with_call(request, timeout=10, metadata=metadata)
        assert created.ticket_id and created.status == tickets_pb2.TICKET_STATUS_SUBMITTED, created
        assert created.title == request.title and created.version == 1, created
        echoed = dict(call.initial_metadata()).get("x-request-id")
        assert echoed == metadata[-1][1], f"request id not echoed: {echoed}"

        again = tickets.CreateTicket(request, timeout=10, metadata=auth)
        assert again.ticket_id == created.ticket_id, "a retried create must return the first ticket"

        fetched = tickets.GetTicket(tickets_pb2.GetTicketRequest(ticket_id=created.ticket_id), timeout=10, metadata=auth)
        assert fetched.ticket_id == created.ticket_id and fetched.items[0].sku == "SKU-1", fetched
        assert fetched.requested_refund.amount_minor == 19900, fetched

        try:
            tickets.GetTicket(tickets_pb2.GetTicketRequest(ticket_id=str(uuid.uuid4())), timeout=10, metadata=auth)
            raise AssertionError("GetTicket of an unknown id must fail")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.NOT_FOUND, error

        try:
            tickets.CreateTicket(tickets_pb2.CreateTicketRequest(request_id="x"), timeout=10, metadata=auth)
            raise AssertionError("an empty create must fail")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "type" in error.details(), error

        print(f"python grpcio {grpc.__version__}: created and read ticket {created.ticket_id} through {target}")
        print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
