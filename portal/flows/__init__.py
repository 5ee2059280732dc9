"""Flow orchestration: the engine that runs a flow's phases (`portal.flows.engine`) and the
durable job queue that drives it in the background (`portal.flows.jobs`).  No Flask here."""
