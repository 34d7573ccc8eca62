#!/bin/bash
# tests/machine/shell.sh [--deb FILE] [--lsm LIST] [COMMAND...] — boot the test machine (a
# throwaway overlay of the cached image; see tests/machine/image.sh), install the .deb if one
# is given, then run COMMAND in it as root, or open an interactive root shell. The machine is
# powered off and its overlay removed when the command or the shell ends (or on Ctrl-C).
#   tests/machine/shell.sh                            # a root shell in a fresh machine
#   tests/machine/shell.sh --deb nnp_0.1.0_amd64.deb  # ... with nnp installed
#   tests/machine/shell.sh --lsm lockdown,capability journalctl -b -u nnp-guard
# Its ssh port (127.0.0.1 only) and key are printed, for a second terminal.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/machine/vm.sh
deb=""; lsm=$LSM_BPF
while [ $# -gt 0 ]; do
  case $1 in
    --deb) deb=$(realpath "$2"); shift 2 ;;
    --lsm) lsm=$2; shift 2 ;;
    *) break ;;
  esac
done
vm_init
vm_boot "$lsm" || exit 1
if [ -n "$deb" ]; then
  gput "$deb" /root/nnp.deb && gq 'dpkg -i /root/nnp.deb' || { vm_halt; exit 1; }
fi
echo "# ssh -i $VM_KEY -p $VM_PORT -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@127.0.0.1"
rc=0
if [ $# -gt 0 ]; then
  ssh "${VM_SSH[@]}" -p "$VM_PORT" root@127.0.0.1 "$*"; rc=$?
else
  ssh "${VM_SSH[@]}" -o BatchMode=no -t -p "$VM_PORT" root@127.0.0.1; rc=$?
fi
vm_halt
exit $rc
