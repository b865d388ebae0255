# Redis from Debian for offline machines, run as Debian's `redis` user with /data owned by
# it (as in the official image). Built by scripts/build_images.sh.
FROM unlearn-services:offline
RUN mkdir -p /data && chown redis:redis /data
USER redis
WORKDIR /data
CMD ["redis-server"]
