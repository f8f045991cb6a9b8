#!/usr/bin/env python3
"""Writes gRPC request frames (1-byte flag, 4-byte length, protobuf) for scripts/bench, after
creating the data they read through the gateway. Usage: bench-frames.py GATEWAY OUT_DIR SECRETS_DIR

SECRETS_DIR is the mesh's credentials folder (.state/secrets): the admin API key authenticates
the set-up calls, and `caller METHOD` (see below) signs the caller header that h2load sends when
it calls a service directly, as the gateway would."""
import base64
import hashlib
import hmac
import json
import os
import struct
import time
import sys
import tempfile
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "interop"))
from ticket_roundtrip import generate  # noqa: E402
import grpc  # noqa: E402


def frame(message) -> bytes:
    body = message.SerializeToString()
    return struct.pack(">BI", 0, len(body)) + body


def signed_caller(secrets: str, method: str, lifetime: int = 300) -> str:
    """The x-supportmesh-caller value the gateway would send for the admin key's caller."""
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    with open(os.path.join(secrets, "caller-secret"), "rb") as f:
        key = f.read().strip()
    claims = {"sub": "admin", "role": "service", "scp": ["*"], "mth": method, "exp": int(time.time()) + lifetime}
    payload = b64(json.dumps(claims, separators=(",", ":")).encode())
    return payload + "." + b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())


def main() -> int:
    if sys.argv[1] == "caller":
        print(signed_caller(sys.argv[3], sys.argv[2]))
        return 0
    target, out, secrets = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(os.path.join(secrets, "admin-api-key")) as f:
        auth = [("x-api-key", f.read().strip())]
    with tempfile.TemporaryDirectory() as gen:
        generate(gen)
        sys.path.insert(0, gen)
        from support.common.v1 import common_pb2
        from support.tickets.v1 import tickets_pb2, tickets_pb2_grpc

        tickets = tickets_pb2_grpc.TicketServiceStub(grpc.insecure_channel(target))
        shopper = f"bench-{uuid.uuid4().hex[:8]}"
        first = None
        for i in range(60):
            created = tickets.CreateTicket(tickets_pb2.CreateTicketRequest(
                request_id=f"bench-{uuid.uuid4()}", type=tickets_pb2.TICKET_TYPE_COMPLAINT,
                category=tickets_pb2.PROBLEM_CATEGORY_SERVICE_ATTITUDE, shopper_id=shopper,
                title=f"bench complaint {i}", channel=common_pb2.CHANNEL_WEB), timeout=10, metadata=auth)
            first = first or created
        with open(os.path.join(out, "get_ticket.bin"), "wb") as f:
            f.write(frame(tickets_pb2.GetTicketRequest(ticket_id=first.ticket_id)))
        with open(os.path.join(out, "list_tickets.bin"), "wb") as f:
            f.write(frame(tickets_pb2.ListTicketsRequest(shopper_id=shopper, page_size=50)))
        with open(os.path.join(out, "check_eligibility.bin"), "wb") as f:
            f.write(frame(tickets_pb2.CheckEligibilityRequest(
                type=tickets_pb2.TICKET_TYPE_EXCHANGE, category=tickets_pb2.PROBLEM_CATEGORY_TRANSACTION,
                item=common_pb2.OrderItemRef(order_id="o-1"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
