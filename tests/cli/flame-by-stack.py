"""Prints the stalled time of a speedscope file's sampled profiles by stack, one
"PROFILE;FRAME;...;FRAME NANOSECONDS" line each, sorted: what the profiles say regardless of
how their samples and frames are ordered."""
import json
import sys
from collections import defaultdict

with open(sys.argv[1], encoding="utf-8") as f:
    doc = json.load(f)
frames = [frame["name"] for frame in doc["shared"]["frames"]]
time = defaultdict(int)
for profile in doc["profiles"]:
    if profile["type"] != "sampled":
        continue
    if len(profile["samples"]) != len(profile["weights"]):
        sys.exit(f"{profile['name']}: {len(profile['samples'])} samples, "
                 f"{len(profile['weights'])} weights")
    if profile["endValue"] != sum(profile["weights"]):
        sys.exit(f"{profile['name']}: endValue is not the sum of the weights")
    for stack, weight in zip(profile["samples"], profile["weights"]):
        time[";".join([profile["name"]] + [frames[i] for i in stack])] += weight
for line in sorted(time):
    print(line, time[line])
