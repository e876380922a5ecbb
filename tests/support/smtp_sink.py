"""A real SMTP server for the notifier's tests (aiosmtpd, from PyPI).

Listens on 127.0.0.1:<port> and appends every message it accepts to <file>,
one JSON object per line: the envelope's recipients and the message's
Message-ID, Subject and decoded text. Prints "ready" once it listens.

    python3 smtp_sink.py <port> <file>
"""
import json
import sys
import time
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, path):
        self.path = path

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        record = {
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "message_id": str(message["Message-ID"]),
            "subject": str(message["Subject"]),
            "text": message.get_content(),
        }
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")
        return "250 Message accepted for delivery"


if __name__ == "__main__":
    port, path = int(sys.argv[1]), sys.argv[2]
    controller = Controller(Sink(path), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()
