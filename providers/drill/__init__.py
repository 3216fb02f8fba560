"""Drills: fail part of a deployed stack on purpose and measure what the report predicted.

A drill reads the same Plan and facts as `topoform report`, finds the stack's
containers on the engine by their Topoform labels, runs a bounded probe load
against the stack's entry points on 127.0.0.1, stops the chosen containers,
waits, starts them again, and compares what it measured with the prediction.

Modules: engine (the container API a drill may use: list, stop, start,
inspect, exec — nothing that removes), stack (the stack's containers by
label, matched to the Plan), scenarios (what to fail and what the report
predicts for it), probe (the load), measure (figures from the probe's
samples), run (the sequence, restoring on any exit), render (text and JSON).
"""
