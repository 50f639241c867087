#!/bin/bash
# Alternating before/after runs of the rerun probe, 3 rounds: BEFORE=<probe> AFTER=<probe> ./alternate.sh
out=${OUT:-reruns.txt}  # appended to
B=${BEFORE:?the probe built against bad1d56}; M=${AFTER:?the probe built against the code after}
for round in 1 2 3; do
 for s in chain tree independent wavefront diamond layered; do
  for n in 100000 1000000; do
   for t in 1 2; do
    if [ $((round % 2)) = 1 ]; then order="B M"; else order="M B"; fi
    for w in $order; do
      bin=$B; [ $w = M ] && bin=$M
      echo "r$round $w $($bin $s $n $t 21)" >> $out
    done
   done
  done
 done
done
