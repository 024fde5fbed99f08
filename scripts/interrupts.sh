# Sourced by the load scripts: `interrupts` prints the function-call and rescheduling interrupts
# taken so far on all CPUs (/proc/interrupts). Function-call interrupts carry the kernel's wake-ups
# of a thread asleep on another CPU, which on a virtual machine the waking vCPU pays for
# (`machine_costs` "wake-up"); under wrk they are mostly the server waking the load generator.
interrupts() {
  awk '$1 == "CAL:" || $1 == "RES:" {for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) n[$1] += $i}
       END {print n["CAL:"] + 0, n["RES:"] + 0}' /proc/interrupts
}
