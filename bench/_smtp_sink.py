"""bench/faults.py's mail server, a process of its own (as a real one is): accepts every
message and appends one `recipient<TAB>Message-ID` line per recipient to a file, flushed per
message. Stopped with SIGTERM (connections are refused until it is started again).

    python bench/_smtp_sink.py HOST PORT FILE
"""

from __future__ import annotations

import asyncio
import signal
import sys


async def main(host: str, port: int, path: str) -> None:
    out = open(path, "a", encoding="utf-8")  # noqa: SIM115 - open for the process's life

    async def session(reader, writer):
        recipients: list[str] = []
        writer.write(b"220 sink ESMTP\r\n")
        try:
            while line := await reader.readline():
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    writer.write(b"250-sink\r\n250 8BITMIME\r\n")
                elif verb == b"MAIL":
                    recipients = []
                    writer.write(b"250 OK\r\n")
                elif verb == b"RCPT":
                    recipients.append(line.split(b":", 1)[1].strip(b" <>\r\n").decode())
                    writer.write(b"250 OK\r\n")
                elif verb == b"DATA":
                    writer.write(b"354 go on\r\n")
                    await writer.drain()
                    message_id = ""
                    while (data := await reader.readline()) not in (b".\r\n", b""):
                        if not message_id and data.lower().startswith(b"message-id:"):
                            message_id = data.split(b":", 1)[1].strip().decode()
                    if data == b"":
                        break  # the client went away mid-message: nothing accepted
                    out.write("".join(f"{r}\t{message_id}\n" for r in recipients))
                    out.flush()
                    writer.write(b"250 queued\r\n")
                elif verb == b"QUIT":
                    writer.write(b"221 bye\r\n")
                    await writer.drain()
                    break
                else:
                    writer.write(b"250 OK\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass  # the client went away, or this server is stopping
        finally:
            writer.close()

    server = await asyncio.start_server(session, host, port, reuse_address=True, backlog=512)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    await stop.wait()
    server.close()
    out.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
