"""The PyTorch twins' side of the line protocol of bench/workers.ts, shared by bench/*_torch.py.

serve(info, rep): prints {"ready": true, ...info}, then answers 'run N' with {"ms": [...], "cpu_ms": [...]}
(N timed calls of rep: wall and process CPU time) and 'rss' with {"max_rss_mb": x} (peak RSS of this process).
"""
import json
import sys
import time


def peak_rss_mib():
    """Peak RSS in MiB: VmHWM of /proc/self/status (this program's mappings since exec; ru_maxrss would
    also count the parent's RSS at fork time, carried over exec by Linux), else ru_maxrss."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def serve(info, rep):
    print(json.dumps({"ready": True, **info}), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if cmd and cmd[0] == "run":
            ms, cpu = [], []
            for _ in range(int(cmd[1])):
                t0, c0 = time.perf_counter(), time.process_time()
                rep()
                ms.append((time.perf_counter() - t0) * 1e3)
                cpu.append((time.process_time() - c0) * 1e3)
            print(json.dumps({"ms": ms, "cpu_ms": cpu}), flush=True)
        elif cmd == ["rss"]:
            print(json.dumps({"max_rss_mb": peak_rss_mib()}), flush=True)
