#!/usr/bin/env python3
"""mkseeds.py - seed corpora for the fuzz harnesses, in build/fuzz/seeds/<name>/.

Usage: mkseeds.py OUTDIR PKIDIR [TRACE...]

From the capture traces (read in place, never copied into the repository):
TCP streams per direction (fuzz_tls), DTLS datagrams (fuzz_dtls), the
packets as a segment sequence (fuzz_flow), certificates and stapled OCSP
responses found in the streams (fuzz_cert, fuzz_ocsp), ClientHello bodies
of TCP, DTLS and SSLv2 hellos (fuzz_hello), the captures themselves
(fuzz_pcap). From PKIDIR (tools/mkpki.sh output): certificates,
OCSP responses, CRLs and list files, a TLS 1.3 server flight (fuzz_tls13).
Plus a few handcrafted inputs (key logs for fuzz_keylog).
Only the standard library: classic pcap and pcapng (EPB/SPB), gzip.
"""
import gzip, hashlib, os, shutil, struct, subprocess, sys

STREAM_MAX = 64 * 1024


def frames(path):
    """(linktype, frame) for each packet of a pcap or pcapng file."""
    with open(path, 'rb') as f:
        data = f.read()
    if data[:2] == b'\x1f\x8b':
        data = gzip.decompress(data)
    if len(data) < 24:
        return
    magic = data[:4]
    if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1', b'\xa1\xb2\xc3\xd4', b'\xa1\xb2\x3c\x4d'):
        e = '<' if magic[0] in (0xd4, 0x4d) else '>'
        lt = struct.unpack(e + 'I', data[20:24])[0] & 0xffff
        off = 24
        while off + 16 <= len(data):
            _, _, incl, _ = struct.unpack(e + 'IIII', data[off:off + 16])
            off += 16
            yield lt, data[off:off + incl]
            off += incl
    elif magic == b'\x0a\x0d\x0d\x0a':
        off, e, lts = 0, '<', []
        while off + 12 <= len(data):
            btype = data[off:off + 4]
            if btype == b'\x0a\x0d\x0d\x0a':
                e = '<' if data[off + 8:off + 12] == b'\x4d\x3c\x2b\x1a' else '>'
                lts = []
            bt, blen = struct.unpack(e + 'II', data[off:off + 8])
            if blen < 12:
                break
            body = data[off + 8:off + blen - 4]
            if bt == 1:
                lts.append(struct.unpack(e + 'H', body[:2])[0])
            elif bt == 6 and len(body) >= 20:
                iface, _, _, cap, _ = struct.unpack(e + 'IIIII', body[:20])
                if iface < len(lts):
                    yield lts[iface], body[20:20 + cap]
            elif bt == 3 and lts:
                yield lts[0], body[4:]
            off += blen


def l3(lt, fr):
    """(ip packet, version) or None."""
    if lt == 1:				# Ethernet, VLAN tags
        off, et = 12, None
        while off + 2 <= len(fr):
            et = struct.unpack('>H', fr[off:off + 2])[0]
            if et in (0x8100, 0x88a8, 0x9100):
                off += 4
                continue
            off += 2
            break
        fr = fr[off:]
        return (fr, 4) if et == 0x0800 else (fr, 6) if et == 0x86dd else None
    if lt == 113:			# Linux cooked v1
        et = struct.unpack('>H', fr[14:16])[0] if len(fr) >= 16 else 0
        fr = fr[16:]
    elif lt == 276:			# Linux cooked v2
        et = struct.unpack('>H', fr[0:2])[0] if len(fr) >= 20 else 0
        fr = fr[20:]
    elif lt in (0, 108):		# BSD loopback
        fr = fr[4:]
        et = 0x0800 if fr[:1] and fr[0] >> 4 == 4 else 0x86dd
    elif lt in (12, 14, 101, 228, 229):
        et = 0x0800 if fr[:1] and fr[0] >> 4 == 4 else 0x86dd
    else:
        return None
    return (fr, 4) if et == 0x0800 else (fr, 6) if et == 0x86dd else None


def l4(ip, v):
    """(proto, src, dst, sport, dport, seq, flags, payload) or None."""
    if v == 4:
        if len(ip) < 20:
            return None
        ihl = (ip[0] & 15) * 4
        tot = struct.unpack('>H', ip[2:4])[0] or len(ip)
        if struct.unpack('>H', ip[6:8])[0] & 0x3fff:
            return None
        proto, src, dst, body = ip[9], ip[12:16], ip[16:20], ip[ihl:tot]
    else:
        if len(ip) < 40:
            return None
        plen = struct.unpack('>H', ip[4:6])[0] or len(ip) - 40
        proto, src, dst, body = ip[6], ip[8:24], ip[24:40], ip[40:40 + plen]
    if proto == 6 and len(body) >= 20:
        sp, dp, seq = struct.unpack('>HHI', body[:8])
        doff = (body[12] >> 4) * 4
        return 6, src, dst, sp, dp, seq, body[13], body[doff:]
    if proto == 17 and len(body) >= 8:
        sp, dp = struct.unpack('>HH', body[:4])
        return 17, src, dst, sp, dp, 0, 0, body[8:]
    return None


def packets(path):
    try:
        for lt, fr in frames(path):
            x = l3(lt, fr)
            if x:
                y = l4(*x)
                if y:
                    yield y
    except (struct.error, OSError, EOFError, IndexError):
        return


def stream_of(segs):
    """In-order bytes of one TCP direction from (seq, payload) in arrival order."""
    out, nxt = bytearray(), None
    pend = sorted(((s, p) for s, p in segs if p), key=lambda x: x[0])
    for s, p in pend:
        if nxt is None:
            nxt = s
        rel = (s - nxt) & 0xffffffff
        if rel > 0x7fffffff:		# behind: keep the new tail only
            cut = (nxt - s) & 0xffffffff
            if cut >= len(p):
                continue
            p, rel = p[cut:], 0
        if rel:
            break			# a hole: stop here
        out += p
        nxt = (nxt + len(p)) & 0xffffffff
        if len(out) >= STREAM_MAX:
            break
    return bytes(out[:STREAM_MAX])


def tls_messages(stream):
    """Handshake (type, body) in a TLS stream, while in the clear."""
    recs, off = bytearray(), 0
    while off + 5 <= len(stream):
        ct, ln = stream[off], struct.unpack('>H', stream[off + 3:off + 5])[0]
        if ct == 20 or stream[off + 1] != 3:
            break
        if ct == 22:
            recs += stream[off + 5:off + 5 + ln]
        off += 5 + ln
    off = 0
    while off + 4 <= len(recs):
        ln = int.from_bytes(recs[off + 1:off + 4], 'big')
        if off + 4 + ln > len(recs):
            break
        yield recs[off], bytes(recs[off + 4:off + 4 + ln])
        off += 4 + ln


class Out:
    def __init__(self, root):
        self.root = root

    def put(self, name, data):
        d = os.path.join(self.root, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, hashlib.sha1(data).hexdigest()), 'wb') as f:
            f.write(data)


def from_trace(out, path):
    tcp, udp, flow, conns = {}, {}, [], {}
    for proto, src, dst, sp, dp, seq, flags, pl in packets(path):
        k = (proto, src, dst, sp, dp)
        rk = (proto, dst, src, dp, sp)
        if k in conns:
            ci, d = conns[k], 0
        elif rk in conns:
            ci, d = conns[rk], 1
        else:
            ci, d = len(conns), 0
            conns[k] = ci
        if proto == 6:
            tcp.setdefault(k, []).append((seq, pl))
            if pl or flags & 5:
                ctl = d | (ci & 3) << 2 | 64 | (16 if flags & 1 else 0) | (32 if flags & 4 else 0)
                flow.append(struct.pack('>BIH', ctl, seq, min(len(pl), 4095)) + pl[:4095])
        elif pl:
            udp.setdefault(k, []).append(pl)
            ctl = d | (ci & 3) << 2 | 2 | 64
            flow.append(struct.pack('>BIH', ctl, 0, min(len(pl), 4095)) + pl[:4095])
    for segs in tcp.values():
        s = stream_of(segs)
        if len(s) < 6 or s[0] not in (0x16, 0x80) and not s[0] & 0x80:
            continue
        cut = len(s) // 3
        out.put('tls', struct.pack('>BHH', 0, cut, 2 * cut) + s)
        if s[0] & 0x80 and len(s) >= 3 and s[2] == 1:		# SSLv2 CLIENT-HELLO
            out.put('hello', b'\x02' + s[3:2 + ((s[0] & 0x7f) << 8 | s[1])])
        for t, body in tls_messages(s):
            if t == 1:
                out.put('hello', b'\x00' + body)
            if t == 11:
                lst = body[3:]
                while len(lst) >= 3:
                    n = int.from_bytes(lst[:3], 'big')
                    if n == 0 or n > len(lst) - 3:
                        break
                    out.put('cert', bytes(lst[3:3 + n]))
                    lst = lst[3 + n:]
            elif t == 22 and len(body) > 4 and body[0] == 1:
                out.put('ocsp', body[4:])
    for dgs in udp.values():
        if not dgs or not 20 <= dgs[0][0] <= 63:
            continue
        out.put('dtls', b'\x00' + b''.join(struct.pack('>H', len(d)) + d for d in dgs[:64]))
        for d in dgs:				# whole (unfragmented) DTLS ClientHellos
            if len(d) >= 25 and d[0] == 22 and d[13] == 1 and d[19:22] == b'\0\0\0' and \
                    d[14:17] == d[22:25]:
                out.put('hello', b'\x01' + d[25:25 + int.from_bytes(d[14:17], 'big')])
    blob = bytearray(b'\x00')
    for seg in flow:
        if len(blob) + len(seg) > 256 * 1024:
            break
        blob += seg
    if len(blob) > 1:
        out.put('flow', bytes(blob))
    if os.path.getsize(path) <= 1024 * 1024:
        with open(path, 'rb') as f:
            raw = f.read()
        out.put('pcap', raw)
        if len(raw) <= 16 * 1024:	# small ones also as pcapng, and gzipped
            ng = pcapng_of(path)
            if ng:
                out.put('pcap', ng)
            if raw[:2] != b'\x1f\x8b':
                out.put('pcap', gzip.compress(raw, mtime=0))


def pcapng_of(path):
    """The same packets as pcapng (SHB, one IDB, EPBs), 802.1Q-tagged when Ethernet."""
    shb = struct.pack('<IHHq', 0x1a2b3c4d, 1, 0, -1)
    out, lt0 = bytearray(struct.pack('<II', 0x0a0d0d0a, 12 + len(shb)) + shb +
                         struct.pack('<I', 12 + len(shb))), None
    for lt, fr in frames(path):
        if lt0 is None:
            lt0 = lt
            idb = struct.pack('<HHI', lt, 0, 0)
            out += struct.pack('<II', 1, 12 + len(idb)) + idb + struct.pack('<I', 12 + len(idb))
        if lt != lt0:
            continue
        if lt == 1 and len(fr) >= 14:
            fr = fr[:12] + b'\x81\x00\x00\x07' + fr[12:]
        pad = (-len(fr)) % 4
        body = struct.pack('<IIIII', 0, 0, 0, len(fr), len(fr)) + fr + b'\0' * pad
        out += struct.pack('<II', 6, 12 + len(body)) + body + struct.pack('<I', 12 + len(body))
    return bytes(out) if lt0 is not None else None


def der_of_pem(path):
    try:
        return subprocess.run(['openssl', 'x509', '-in', path, '-outform', 'der'],
                              capture_output=True, check=True).stdout
    except (subprocess.CalledProcessError, OSError):
        return None


def from_pki(out, pki):
    for n in sorted(os.listdir(pki)):
        p = os.path.join(pki, n)
        if n.endswith('.pem') and not n.endswith('.chain.pem') and not n.startswith('inter.crl'):
            der = der_of_pem(p)
            if der:
                out.put('cert', der)
            with open(p, 'rb') as f:
                out.put('lists', f.read())		# as a CA file
        elif '.ocsp-' in n and n.endswith('.der'):
            with open(p, 'rb') as f:
                d = f.read()
            out.put('ocsp', d)
            # the same staple inside a CertificateStatus message
            out.put('tls', struct.pack('>BHH', 0, 3, 9) + b'\x16\x03\x03' +
                    struct.pack('>H', len(d) + 8) + b'\x16' + (len(d) + 4).to_bytes(3, 'big') +
                    b'\x01' + len(d).to_bytes(3, 'big') + d)
        elif n.startswith('inter.crl'):
            with open(p, 'rb') as f:
                out.put('lists', f.read())
            try:
                der = subprocess.run(['openssl', 'crl', '-in', p, '-outform', 'der'],
                                     capture_output=True, check=True).stdout
                out.put('lists', der)
            except (subprocess.CalledProcessError, OSError):
                pass
    leaf = der_of_pem(os.path.join(pki, 'leaf.pem'))
    if leaf:
        fp = hashlib.sha256(leaf).hexdigest().upper()
        out.put('lists', ('# deny\nsha256:%s\nsha256:%s\nspki:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n'
                          'serial:01:02:03 issuer:CN=certsentry Test Intermediate,O=certsentry test\n'
                          % (fp, ':'.join(fp[i:i + 2] for i in range(0, 64, 2)))).encode())
        out.put('lists', ('# pins\nwww.example.test sha256:%s spki:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n'
                          '*.example.test sha256:%s\nip:192.0.2.2:443 sha256:%s\nip:[2001:db8::2]:443 sha256:%s\n'
                          % (fp, fp, fp, fp)).encode())
        # a Certificate message holding the leaf, behind a ClientHello-less stream
        body = (len(leaf) + 3).to_bytes(3, 'big') + len(leaf).to_bytes(3, 'big') + leaf
        msg = b'\x0b' + len(body).to_bytes(3, 'big') + body
        out.put('tls', struct.pack('>BHH', 0, 7, 100) + b'\x16\x03\x03' + struct.pack('>H', len(msg)) + msg)
        tls13_seeds(out, leaf, der_of_pem(os.path.join(pki, 'inter.pem')),
                    read_or_none(os.path.join(pki, 'leaf.ocsp-good.der')))


def read_or_none(path):
    try:
        with open(path, 'rb') as f:
            return f.read()
    except OSError:
        return None


def hs(t, body):
    return bytes([t]) + len(body).to_bytes(3, 'big') + body


def tls13_seeds(out, leaf, inter, ocsp):
    """fuzz_tls13 inputs: a server flight (EncryptedExtensions, a TLS 1.3
    Certificate of leaf + intermediate with a stapled OCSP response,
    CertificateVerify, Finished) as record descriptions the harness seals:
    kind (inner type, 20 = clear CCS), padding, length, content."""
    ext = b''
    if ocsp:
        st = b'\x01' + len(ocsp).to_bytes(3, 'big') + ocsp
        ext = struct.pack('>HH', 5, len(st)) + st
    entries = b''
    for i, der in enumerate(c for c in (leaf, inter) if c):
        e = ext if i == 0 else b''
        entries += len(der).to_bytes(3, 'big') + der + struct.pack('>H', len(e)) + e
    msgs = [hs(8, b'\x00\x00'), hs(11, b'\x00' + len(entries).to_bytes(3, 'big') + entries),
            hs(15, b'\x08\x04\x00\x04sign'), hs(20, bytes(32))]
    flight = b''.join(msgs)
    def rec(kind, content, pad=0):
        return struct.pack('>BBH', kind, pad, len(content)) + content
    for suite in range(5):
        out.put('tls13', struct.pack('>BHH', suite, 100, 900) + rec(22, flight))
    # one message per record, a CCS first, padding; a message cut across records
    out.put('tls13', struct.pack('>BHH', 1, 7, 2000) + rec(20, b'\x01') +
            b''.join(rec(22, m, 5) for m in msgs))
    out.put('tls13', struct.pack('>BHH', 2, 0, 0) + rec(22, flight[:300]) + rec(22, flight[300:]))
    # the client's side: an alert, encrypted and in the clear
    out.put('tls13', struct.pack('>BHH', 0, 0, 0) + rec(21, b'\x02\x2a'))
    out.put('tls13', struct.pack('>BHH', 8, 3, 5) + b'\x15\x03\x03\x00\x02\x02\x2c')


def handcrafted(out):
    # reasm: in order, out of order, overlapping, wrapping
    out.put('reasm', b'\x03' + struct.pack('>I', 0xfffffff0) + b'\x00\x00\x00\x00\x10' + b'A' * 16 +
            b'\x00\x00\x10\x00\x08' + b'C' * 8 + b'\x00\xff\xf0\x00\x10' + b'B' * 16)
    out.put('reasm', b'\x02' + struct.pack('>I', 1) + b'\x01\x00\x00\x00\x09\x00\x04WXYZ' +
            b'\x01\x00\x00\x00\x01\x00\x08ABCDEFGH')
    # tls: an SSLv2 CLIENT-HELLO, then a record of length 0
    v2 = b'\x01\x00\x02\x00\x03\x00\x00\x00\x10' + b'\x01\x00\x80' + b'C' * 16
    out.put('tls', struct.pack('>BHH', 0, 1, 2) + bytes([0x80, len(v2)]) + v2 + b'\x16\x03\x01\x00\x00')
    out.put('tls', struct.pack('>BHH', 0, 2, 4) + b'\x15\x03\x03\x00\x02\x02\x2a')
    # dtls: a ClientHello in two fragments, reversed
    body = b'\xfe\xfd' + b'R' * 32 + b'\x00' + b'\x00' + b'\x00\x02\xc0\x2f' + b'\x01\x00'
    def frag(off, data):
        f = b'\x01' + len(body).to_bytes(3, 'big') + b'\x00\x00' + off.to_bytes(3, 'big') + \
            len(data).to_bytes(3, 'big') + data
        return b'\x16\xfe\xfd\x00\x00' + b'\x00' * 6 + struct.pack('>H', len(f)) + f
    a, b = frag(0, body[:20]), frag(20, body[20:])
    out.put('dtls', b'\x00' + struct.pack('>H', len(b)) + b + struct.pack('>H', len(a)) + a)
    # hello: GREASE in every list, every decoded extension once
    g = b'\x0a\x0a'
    exts = [(0x0a0a, b''), (0, b'\x00\x08\x00\x00\x05a.com'), (10, b'\x00\x04' + g + b'\x00\x1d'),
            (11, b'\x01\x00'), (13, b'\x00\x04' + g + b'\x04\x03'), (16, b'\x00\x03\x02h2'),
            (43, b'\x04' + g + b'\x03\x04'), (51, b'\x00\x0a' + g + b'\x00\x01\x00\x00\x1d\x00\x01\x00'),
            (42, b''), (41, b'\x00')]
    e = b''.join(struct.pack('>HH', t, len(d)) + d for t, d in exts)
    body = b'\x03\x03' + b'R' * 32 + b'\x00' + b'\x00\x04' + g + b'\x13\x01' + b'\x01\x00' + \
        struct.pack('>H', len(e)) + e
    out.put('hello', b'\x03' + body)
    # tls13: a flight with a stand-in certificate (the PKI's come from from_pki)
    tls13_seeds(out, b'\x30\x03\x02\x01\x01', None, None)
    # keylog: every label, CRLF, comments, and hostile lines
    rnd = bytes(range(32)).hex()
    good = ''.join('%s %s %s\n' % (l, rnd, bytes(range(48 if l == 'CLIENT_RANDOM' or i % 2 else 32)).hex())
                   for i, l in enumerate(['CLIENT_RANDOM', 'CLIENT_EARLY_TRAFFIC_SECRET',
                                          'CLIENT_HANDSHAKE_TRAFFIC_SECRET',
                                          'SERVER_HANDSHAKE_TRAFFIC_SECRET', 'CLIENT_TRAFFIC_SECRET_0',
                                          'SERVER_TRAFFIC_SECRET_0', 'EXPORTER_SECRET']))
    out.put('keylog', b'\x87\x00\x40' + b'# SSL/TLS secrets log file\r\n\n' + good.encode())
    out.put('keylog', b'\x01\x01\x00' + good.replace('\n', '\r\n').encode())
    out.put('keylog', b'\xc3\x00\x10' + b'CLIENT_RANDOM 00 11\nECH_SECRET ' + rnd.encode() + b' 00\n' +
            b'SERVER_HANDSHAKE_TRAFFIC_SECRET ' + rnd[:-2].encode() + b'zz ' + b'ab' * 40 + b'\n' +
            b'A' * 700 + b'\n\t\t\r\n' + good.encode()[:150])
    # lists: odd but valid lines
    out.put('lists', b'\xef\xbb\xbf# bom\n  sha256:' + b'00' * 32 + b'  # trailing\n')
    out.put('lists', b'ip:[::1]:443 spki:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n')


def main():
    out, pki, traces = Out(sys.argv[1]), sys.argv[2], sys.argv[3:]
    for t in traces:
        from_trace(out, t)
    if os.path.isdir(pki):
        from_pki(out, pki)
    handcrafted(out)
    for name in ('tls', 'dtls', 'reasm', 'cert', 'ocsp', 'lists', 'pcap', 'flow', 'hello', 'keylog', 'tls13'):
        d = os.path.join(sys.argv[1], name)
        os.makedirs(d, exist_ok=True)
        print('%-6s %4d seeds' % (name, len(os.listdir(d))))


if __name__ == '__main__':
    main()
