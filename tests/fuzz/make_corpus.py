#!/usr/bin/env python3
"""Writes the codec_fuzz seed corpus: small hand-written MQTT packets (MQTT 3.1/3.1.1/5.0).

Each file starts with the selector byte codec_fuzz.cpp reads (0x00 = 3.1, 0x01 = 3.1.1,
0x02 = 5.0, absolute maximum packet size) followed by one or more packets.
Run from anywhere: python3 make_corpus.py
"""
import pathlib

V31, V311, V5 = "00", "01", "02"

SEEDS = {
    # CONNECT 3.1.1, §3.1.2.10 flags 0xCE: user, password, will QoS 1, will, clean; keep alive 10
    "connect_v311": V311 + "10 20 0004 4d515454 04 ce 000a 0003 636964"
                    "0001 74 0002 6869 0004 75736572 0002 7077",
    "connect_v31": V31 + "10 10 0006 4d5149736470 03 02 003c 0002 6331",
    # CONNECT 5.0: session expiry 60, receive maximum 10, user property; will with delay 5
    "connect_v5": V5 + "10 29 0004 4d515454 05 06 003c 0f 11 0000003c 21 000a 26 0001 6b 0001 76"
                  "0001 63 05 18 00000005 0001 77 0001 78",
    "connack_v311": V311 + "20 02 01 00",
    "connack_v311_refused": V311 + "20 02 00 05",
    # CONNACK 5.0: maximum QoS 1, retain available 0, topic alias maximum 16
    "connack_v5": V5 + "20 0a 00 00 07 24 01 25 00 22 0010",
    "publish_qos0_v311": V311 + "30 07 0003 612f62 6869",
    "publish_qos1_v311": V311 + "32 09 0003 612f62 0001 6869",
    # PUBLISH 5.0 QoS 2 retain: message expiry 30, topic alias 3, subscription ids 1 and 200
    "publish_qos2_v5": V5 + "35 17 0003 612f62 0007 0d 02 0000001e 23 0003 0b 01 0b c801 6869",
    "pub_acks_v311": V311 + "40 02 0001 50 02 0002 62 02 0002 70 02 0002",
    "pub_acks_v5": V5 + "40 03 0001 10 50 02 0002 62 08 0002 92 04 1f 0001 78 70 02 0002",
    "subscribe_v311": V311 + "82 0e 000a 0003 612f2b 01 0003 622f23 02",
    # SUBSCRIBE 5.0: subscription id 5; options no local + retain as published + handling 2
    "subscribe_v5": V5 + "82 0b 000a 02 0b 05 0003 612f62 2e",
    "suback_v311": V311 + "90 05 000a 00 01 80",
    "suback_v5": V5 + "90 05 000a 00 02 87",
    "unsubscribe_v311": V311 + "a2 07 000b 0003 612f62",
    "unsubscribe_v5": V5 + "a2 08 000b 00 0003 612f62",
    "unsuback_v311": V311 + "b0 02 000b",
    "unsuback_v5": V5 + "b0 05 000b 00 00 11",
    "ping": V311 + "c0 00 d0 00",
    "disconnect_v311": V311 + "e0 00",
    "disconnect_v5": V5 + "e0 07 04 05 11 00000000",
    "auth_v5": V5 + "f0 0a 18 08 15 0005 5343524d31",
    # a 3.1.1-selected stream whose CONNECT switches it to 5.0
    "session_v5": V311 + "10 0e 0004 4d515454 05 02 003c 00 0001 63"
                  "32 08 0001 74 0001 00 6869 e0 00",
}


def main():
    out = pathlib.Path(__file__).resolve().parent / "corpus"
    out.mkdir(exist_ok=True)
    for name, hexbytes in SEEDS.items():
        (out / name).write_bytes(bytes.fromhex(hexbytes.replace(" ", "")))


if __name__ == "__main__":
    main()
