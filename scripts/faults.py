#!/usr/bin/env python3
"""Fault run against a running mesh: writers create tickets and send chat messages through the
gateway while the processes and the database are killed; afterwards every acknowledged create
and message must be there, exactly once. Bounded: a fixed duration, loopback only.

Usage: faults.py GATEWAY STATE_DIR SECONDS WRITERS
  STATE_DIR is the mesh's state folder (credentials, pids, pg-data).
Prints what it did and "N passed, M failed" per check.
"""
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "interop"))
from ticket_roundtrip import generate  # noqa: E402
import grpc  # noqa: E402


def main() -> int:
    target, state, seconds, writers = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    with open(os.path.join(state, "secrets", "admin-api-key")) as f:
        auth = [("x-api-key", f.read().strip())]
    with tempfile.TemporaryDirectory() as gen:
        generate(gen)
        sys.path.insert(0, gen)
        from support.tickets.v1 import tickets_pb2, tickets_pb2_grpc
        from support.chat.v1 import chat_pb2, chat_pb2_grpc
        from support.common.v1 import common_pb2

        shopper = f"faults-{uuid.uuid4().hex[:8]}"
        acknowledged = {}          # request id -> ticket id
        outcomes = {}
        lock = threading.Lock()
        stop = time.monotonic() + seconds

        def request(request_id):
            return tickets_pb2.CreateTicketRequest(
                request_id=request_id, type=tickets_pb2.TICKET_TYPE_COMPLAINT,
                category=tickets_pb2.PROBLEM_CATEGORY_SERVICE_ATTITUDE, shopper_id=shopper,
                title=f"fault run {request_id}", channel=common_pb2.CHANNEL_WEB)

        def writer():
            stub = tickets_pb2_grpc.TicketServiceStub(grpc.insecure_channel(target))
            while time.monotonic() < stop:
                request_id = f"f-{uuid.uuid4()}"
                try:
                    ticket = stub.CreateTicket(request(request_id), timeout=5, metadata=auth)
                    with lock:
                        acknowledged[request_id] = ticket.ticket_id
                        outcomes["OK"] = outcomes.get("OK", 0) + 1
                except grpc.RpcError as error:
                    with lock:
                        outcomes[error.code().name] = outcomes.get(error.code().name, 0) + 1
                    time.sleep(0.05)

        # Chat: as many writers again, sending messages into a few conversations at once (so
        # that chat writes them in batches, MessageBatches.swift).
        chat_stub = chat_pb2_grpc.ConversationServiceStub(grpc.insecure_channel(target))
        conversations = []
        for index in range(4):
            conversation = chat_stub.StartConversation(chat_pb2.StartConversationRequest(
                request_id=f"fc-{uuid.uuid4()}", shopper_id=f"{shopper}-{index}", channel=common_pb2.CHANNEL_WEB,
                initial_message="fault run"), timeout=10, metadata=auth)
            conversations.append((conversation.conversation_id, f"{shopper}-{index}"))
        messages_acknowledged = {}  # (conversation id, request id) -> message id
        chat_outcomes = {}

        def message(conversation, request_id):
            conversation_id, shopper_id = conversation
            return chat_pb2.SendMessageRequest(
                request_id=request_id, conversation_id=conversation_id, text=f"fault run {request_id}",
                sender=common_pb2.Actor(kind=common_pb2.ACTOR_KIND_SHOPPER, id=shopper_id))

        def chat_writer():
            stub = chat_pb2_grpc.ConversationServiceStub(grpc.insecure_channel(target))
            while time.monotonic() < stop:
                conversation = random.choice(conversations)
                request_id = f"m-{uuid.uuid4()}"
                try:
                    sent = stub.SendMessage(message(conversation, request_id), timeout=5, metadata=auth)
                    with lock:
                        messages_acknowledged[(conversation[0], request_id)] = sent.message_id
                        chat_outcomes["OK"] = chat_outcomes.get("OK", 0) + 1
                except grpc.RpcError as error:
                    with lock:
                        chat_outcomes[error.code().name] = chat_outcomes.get(error.code().name, 0) + 1
                    time.sleep(0.05)

        def pid(name):
            with open(os.path.join(state, "pids", f"{name}.pid")) as f:
                return int(f.read().strip())

        def database_restart():
            with open(os.path.join(state, "pg-data")) as f:
                data = f.read().strip()
            pg_ctl = sorted(p for p in (f"/usr/lib/postgresql/{v}/bin/pg_ctl" for v in os.listdir("/usr/lib/postgresql")) if os.path.exists(p))[-1]
            command = [pg_ctl, "-D", data, "restart", "-m", "immediate", "-w"]
            if os.geteuid() == 0:
                command = ["runuser", "-u", "postgres", "--"] + command
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        faults = []
        threads = [threading.Thread(target=writer) for _ in range(writers)]
        threads += [threading.Thread(target=chat_writer) for _ in range(writers)]
        for thread in threads:
            thread.start()
        # kill: SIGKILL; term: SIGTERM (a drain under load: calls in flight finish, the rest
        # see UNAVAILABLE); the launcher restarts the process either way.
        victims = ["kill tickets", "term gateway", "kill gateway", "database", "term tickets", "kill chat", "kill tickets", "database"]
        interval = seconds / (len(victims) + 1)
        for victim in victims:
            time.sleep(interval)
            try:
                if victim == "database":
                    database_restart()
                else:
                    how, name = victim.split()
                    os.kill(pid(name), signal.SIGKILL if how == "kill" else signal.SIGTERM)
                faults.append(victim)
            except (OSError, subprocess.CalledProcessError) as error:
                faults.append(f"{victim} (failed: {error})")
        for thread in threads:
            thread.join()

        # Let the mesh recover, then check every acknowledged create.
        stub = tickets_pb2_grpc.TicketServiceStub(grpc.insecure_channel(target))
        deadline = time.monotonic() + 60
        while True:
            try:
                # A read that needs the database: tickets is up and its probe sees PostgreSQL.
                stub.ListTickets(tickets_pb2.ListTicketsRequest(shopper_id=shopper, page_size=1), timeout=5, metadata=auth)
                break
            except grpc.RpcError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        stored = set()
        token = ""
        while True:
            page = stub.ListTickets(tickets_pb2.ListTicketsRequest(shopper_id=shopper, page_size=500, page_token=token), timeout=30, metadata=auth)
            for ticket in page.tickets:
                stored.add((ticket.ticket_id, ticket.title))
            token = page.next_page_token
            if not token:
                break
        stored_ids = {ticket_id for ticket_id, _ in stored}
        titles = [title for _, title in stored]
        lost = [rid for rid, tid in acknowledged.items() if tid not in stored_ids]
        duplicated = len(titles) - len(set(titles))
        retried_differently = 0
        for rid, tid in random.sample(sorted(acknowledged.items()), min(200, len(acknowledged))):
            if stub.CreateTicket(request(rid), timeout=10, metadata=auth).ticket_id != tid:
                retried_differently += 1

        # Chat: every acknowledged message stored once, with its id; a retry returns it.
        stored_messages = {}       # message id -> request id
        texts = []
        for conversation_id, _ in conversations:
            token = ""
            while True:
                page = chat_stub.ListMessages(chat_pb2.ListMessagesRequest(
                    conversation_id=conversation_id, page_size=500, page_token=token), timeout=30, metadata=auth)
                for stored_message in page.messages:
                    stored_messages[stored_message.message_id] = stored_message.request_id
                    if stored_message.request_id.startswith("m-"):
                        texts.append(stored_message.text)
                token = page.next_page_token
                if not token:
                    break
        messages_lost = [key for key, mid in messages_acknowledged.items() if stored_messages.get(mid) != key[1]]
        messages_duplicated = len(texts) - len(set(texts))
        messages_retried_differently = 0
        by_id = dict(conversations)
        for (conversation_id, rid), mid in random.sample(sorted(messages_acknowledged.items()), min(200, len(messages_acknowledged))):
            again = chat_stub.SendMessage(message((conversation_id, by_id[conversation_id]), rid), timeout=10, metadata=auth)
            if again.message_id != mid:
                messages_retried_differently += 1

        print(f"faults injected: {', '.join(faults)}")
        print(f"writers: {writers} for {seconds} s; outcomes: {dict(sorted(outcomes.items()))}")
        print(f"acknowledged creates: {len(acknowledged)}; stored: {len(stored_ids)} "
              f"(creates that failed or timed out may or may not have committed)")
        print(f"chat writers: {writers}; outcomes: {dict(sorted(chat_outcomes.items()))}; acknowledged messages: "
              f"{len(messages_acknowledged)}; stored: {len(stored_messages) - len(conversations)} (besides each conversation's first)")
        checks = {
            "no acknowledged create lost": not lost,
            "no acknowledged message lost": not messages_lost,
            "no message stored twice": messages_duplicated == 0,
            "a retry returns the first message (200 sampled)": messages_retried_differently == 0,
            "some messages were acknowledged": len(messages_acknowledged) > 0,
            "no request stored twice": duplicated == 0,
            "a retry returns the first ticket (200 sampled)": retried_differently == 0,
            "some creates were acknowledged": len(acknowledged) > 0,
            "every failure is UNAVAILABLE or DEADLINE_EXCEEDED (never UNKNOWN, INTERNAL, CANCELLED)":
                set(outcomes) | set(chat_outcomes) <= {"OK", "UNAVAILABLE", "DEADLINE_EXCEEDED"},
        }
        for name, ok in checks.items():
            print(f"  {'ok  ' if ok else 'FAIL'} {name}")
        failed = sum(not ok for ok in checks.values())
        print(f"{len(checks) - failed} passed, {failed} failed")
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
