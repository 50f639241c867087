#!/bin/bash
# callgrind.sh <probe> <shape> [tasks]: instructions per task per rerun on one thread
bin=$1; shape=$2; n=${3:-100000}
ir() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" $shape $n 1 $1 2>&1 | grep -o 'refs: *[0-9,]*' | tr -d ', ' | cut -d: -f2; }
a=$(ir 1); b=$(ir 11)
python3 -c "print('$shape', '$(basename $bin)', round(($b-$a)/10/$n,1))"
