#!/usr/bin/env python3
"""Summary of a perf profile of fs_get_historical_features (test/bench/pit.sh).

    perf script -i perf.data --comms postgres -F pid,ip,sym,dso | perf_summary.py BACKEND_PID

Debian's postgres binary is stripped of its static symbols: perf shows their
samples as bare addresses.  This maps each such address to the start of its
function (from the binary's .eh_frame, which stripping keeps) and names it
after the nearest exported symbol before it, e.g. pg_static@5e35b0(after
ssup_datum_int32_cmp) -- a static function of tuplesort.c.  Then it prints,
for the backend and for the other postgres processes (parallel workers):
the share of samples under some functions of interest (inclusive), the
children of pushsource's own receivers, and the top functions by self time.
"""
import bisect
import collections
import re
import subprocess
import sys

POSTGRES = '/usr/lib/postgresql/15/bin/postgres'
INTEREST = ['spine_receive', 'merge_receive', 'advance_spine', 'emit_spine_row',
            'tuplesort_puttupleslot', 'tuplesort_performsort', 'tuplesort_gettupleslot',
            'tuplestore_put', 'tuplestore_get', 'ExecScan', 'heap_getnextslot',
            'LogicalTape', 'BufFile', 'llvm', 'shm_mq', 'timestamptz_mi_interval',
            'compare_spine_keys', 'ExecFilterJunk', 'ExecStoreMinimalTuple']


def functions():
    fdes = []
    out = subprocess.run(['readelf', '--debug-dump=frames', POSTGRES], capture_output=True, text=True).stdout
    for m in re.finditer(r'pc=([0-9a-f]+)\.\.([0-9a-f]+)', out):
        fdes.append((int(m.group(1), 16), int(m.group(2), 16)))
    fdes.sort()
    syms = []
    out = subprocess.run(['nm', '-D', '--defined-only', POSTGRES], capture_output=True, text=True).stdout
    for line in out.splitlines():
        p = line.split()
        if len(p) == 3:
            syms.append((int(p[0], 16), p[2]))
    syms.sort()
    return fdes, [f[0] for f in fdes], syms, [s[0] for s in syms]


def main():
    backend = int(sys.argv[1])
    fdes, starts, syms, sstarts = functions()

    def resolve(ip):
        i = bisect.bisect_right(starts, ip) - 1
        st = starts[i] if i >= 0 and fdes[i][0] <= ip < fdes[i][1] else ip
        j = bisect.bisect_right(sstarts, st) - 1
        return 'pg_static@%x(after %s)' % (st, syms[j][1] if j >= 0 else '?')

    samples, cur = [], None
    for line in sys.stdin:
        s = line.strip()
        if not s:
            if cur:
                samples.append(cur)
            cur = None
            continue
        if cur is None and re.fullmatch(r'\d+', s):
            cur = (int(s), [])
            continue
        m = re.match(r'^([0-9a-f]+) (.*) \((.*)\)$', s)
        if m and cur is not None:
            sym = m.group(2)
            if sym == '[unknown]' and m.group(3) == POSTGRES:
                sym = resolve(int(m.group(1), 16))
            cur[1].append(re.sub(r'@plt$', '', sym))
    if cur:
        samples.append(cur)
    n_all = len(samples)
    if n_all == 0:
        print('no samples')
        return
    print('%d samples of postgres processes; by pid: %s' % (
        n_all, ', '.join('%d%s %.1f%%' % (p, ' (backend)' if p == backend else '', 100 * c / n_all)
                         for p, c in collections.Counter(p for p, _ in samples).most_common(6))))
    for who, sel in (('backend', lambda p: p == backend), ('other postgres processes (parallel workers)', lambda p: p != backend)):
        sub = [f for p, f in samples if sel(p)]
        n = len(sub)
        if n == 0:
            continue
        print('\n== %s: %d samples (%.1f%% of all); percentages of these' % (who, n, 100 * n / n_all))
        print('  inclusive:')
        for name in INTEREST:
            c = sum(1 for f in sub if any(name in x for x in f))
            if c:
                print('    %5.1f%%  %s' % (100 * c / n, name))
        for top in ('spine_receive', 'merge_receive', 'emit_spine_row', 'advance_spine'):
            cc = collections.Counter()
            for f in sub:
                if top in f:
                    k = f.index(top)
                    cc[f[k - 1] if k > 0 else '(self)'] += 1
            if cc:
                print('  under %s: %s' % (top, ', '.join('%s %.1f%%' % (c, 100 * v / n) for c, v in cc.most_common(6))))
        print('  self time:')
        for s, c in collections.Counter(f[0] if f else '?' for f in sub).most_common(25):
            print('    %5.1f%%  %s' % (100 * c / n, s))


if __name__ == '__main__':
    main()
