# The before/after table of BENCHMARKS.md ("The Failures issue, checked again") from reruns.txt: python3 table.py
import collections, statistics
d = collections.defaultdict(list)
for line in open('reruns.txt'):
    p = line.split()
    r, w, s, n, t = p[0], p[1], p[2], p[3], p[4]
    med = float(p[6]); mn = float(p[8])
    d[(s, n, t, w)].append((med, mn))
rows = []
print("| shape | tasks | threads | before: each process's median | after | before min of medians | after | after/before (min) | after/before (median) |")
print("|---|---:|---:|---|---|---:|---:|---:|---:|")
rmin, rmed = [], []
for s in "chain tree independent wavefront diamond layered".split():
    for n in ("100000", "1000000"):
        for t in ("t=1", "t=2"):
            b = [x[0] for x in d[(s, n, t, 'B')]]; m = [x[0] for x in d[(s, n, t, 'M')]]
            a1 = min(m)/min(b); a2 = statistics.median(m)/statistics.median(b)
            rmin.append(a1); rmed.append(a2)
            print(f"| {s} | {int(n):,} | {t[2:]} | {' '.join(f'{x:.1f}' for x in b)} | {' '.join(f'{x:.1f}' for x in m)} | {min(b):.1f} | {min(m):.1f} | {a1:.2f} | {a2:.2f} |")
print("median of ratios", round(statistics.median(rmin), 3), round(statistics.median(rmed), 3))
