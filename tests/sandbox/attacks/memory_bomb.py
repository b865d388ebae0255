# Attack: allocate far beyond the memory limit (no swap: memory == memory+swap). The kernel
# kills the container; docker inspect reports OOMKilled, and the run gets "out of memory".
# expect: out_of_memory
def unlearning(net, retain_loader, forget_loader, val_loader):
    hoard = []
    while True:
        hoard.append(bytearray(64 * 1024 * 1024))  # zero-filled: every page is touched
