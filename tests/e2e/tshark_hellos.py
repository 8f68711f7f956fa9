#!/usr/bin/env python3
"""tshark_hellos.py - the oracle side of test_fingerprints.sh: every ClientHello tshark
dissects in the given captures, one TAB-separated line each:

    file  kind  client_random  ja3_string  ja3  ja4  ja4_r

JA3 is tshark's own (tls.handshake.ja3_full / ja3, dtls.* for DTLS). tshark 4.0 has
no JA4, so JA4 is computed here from tshark's dissection of the hello, by the FoxIO
spec (technical_details/JA4.md), independently of certsentry's decoder: a second
reading of the same bytes. A field tshark did not give is "-". Hellos tshark could
not dissect whole (fragments it did not reassemble) have no cipher suites and are
left out of the JA4 columns ("-").
Usage: tshark_hellos.py FILE...
"""
import hashlib, json, os, subprocess, sys

GREASE = {0x0a0a + 0x1010 * i for i in range(16)}
JA4_VERSIONS = {0x0304: '13', 0x0303: '12', 0x0302: '11', 0x0301: '10', 0x0300: 's3',
                0x0002: 's2', 0xfeff: 'd1', 0xfefd: 'd2', 0xfefc: 'd3'}


def as_list(v):
    return v if isinstance(v, list) else [v]


def num(v):
    return int(v, 16) if str(v).startswith('0x') else int(v)


def find(o, key):
    """Every value of key anywhere under o, in document order."""
    if isinstance(o, dict):
        for k, v in o.items():
            if k == key:
                yield from as_list(v)
            else:
                yield from find(v, key)
    elif isinstance(o, list):
        for v in o:
            yield from find(v, key)


def extensions(hs, p):
    """(type, subtree) of each extension of one hello, in order."""
    for k, v in hs.items():
        if k.startswith('Extension: '):
            for e in as_list(v):
                yield num(e[p + '.handshake.extension.type']), e


def hash12(s):
    return hashlib.sha256(s.encode()).hexdigest()[:12]


def ja4(hs, p, dtls):
    suites = [num(c) for c in find(hs, p + '.handshake.ciphersuite')]
    suites = [c for c in suites if c not in GREASE]
    if not suites:
        return '-', '-'
    exts, sigs, versions, alpn = [], [], None, None
    for t, e in extensions(hs, p):
        if t in GREASE:
            continue
        exts.append(t)
        if t == 13:
            sigs = [num(s) for s in find(e, p + '.handshake.sig_hash_alg')]
        elif t == 43:
            versions = [num(v) for v in find(e, p + '.handshake.extensions.supported_version')]
        elif t == 16:
            alpn = next(find(e, p + '.handshake.extensions_alpn_str'), None)
    if versions is not None:
        vs = [v for v in versions if v not in GREASE]
        # DTLS numbers count down: the newest is the smallest.
        v = (min(vs) if dtls else max(vs)) if vs else 0
    else:
        v = num(hs[p + '.handshake.version'])
    a = ('d' if dtls else 't') + JA4_VERSIONS.get(v, '00')
    a += 'd' if 0 in exts else 'i'
    a += '%02d%02d' % (min(len(suites), 99), min(len(exts), 99))
    if not alpn:
        a += '00'
    elif alpn[0].isalnum() and alpn[-1].isalnum() and alpn.isascii():
        a += alpn[0] + alpn[-1]
    else:
        h = alpn.encode().hex()
        a += h[0] + h[-1]
    b = ','.join('%04x' % c for c in sorted(suites))
    rest = sorted(t for t in exts if t not in (0, 16))
    c = ','.join('%04x' % t for t in rest)
    sigs = [s for s in sigs if s not in GREASE]
    if sigs:
        c += '_' + ','.join('%04x' % s for s in sigs)
    hb = hash12(b)
    hc = hash12(c) if rest else '000000000000'
    return '%s_%s_%s' % (a, hb, hc), '%s_%s_%s' % (a, b, c)


def hellos(path):
    out = subprocess.run(['tshark', '-r', path, '-n', '-T', 'json', '--no-duplicate-keys',
                          '-Y', 'tls.handshake.type == 1 || dtls.handshake.type == 1'],
                         capture_output=True, check=True).stdout
    for pkt in json.loads(out or b'[]'):
        layers = pkt['_source']['layers']
        for p in ('tls', 'dtls'):
            for hs in find(layers.get(p, {}), p + '.handshake'):
                if not isinstance(hs, dict) or hs.get(p + '.handshake.type') != '1':
                    continue
                rnd = hs.get(p + '.handshake.random', '-').replace(':', '')
                j4, j4r = ja4(hs, p, p == 'dtls')
                yield (p, rnd, hs.get(p + '.handshake.ja3_full', '-'),
                       hs.get(p + '.handshake.ja3', '-'), j4, j4r)


def main():
    # One write(2) for the whole output: test_fingerprints runs two of us
    # into one file, and block-buffered prints cut lines where the buffer
    # fills, so the two interleaved mid-line (a garbled line, a failed
    # comparison) now and then.
    lines = []
    for path in sys.argv[1:]:
        for h in hellos(path):
            lines.append('\t'.join((os.path.basename(path),) + h) + '\n')
    data = ''.join(lines).encode()
    while data:
        data = data[os.write(sys.stdout.fileno(), data):]


if __name__ == '__main__':
    main()
