-- What each container may use (`ContainerLimits` as JSON: memory_mb, pids, cpus), enforced
-- by its cgroup when it runs. NULL: made before limits existed; it runs with the defaults.
ALTER TABLE containers ADD COLUMN limits TEXT;
