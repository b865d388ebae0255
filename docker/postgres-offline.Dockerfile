# PostgreSQL 15 from Debian for offline machines, started like the official image: the
# first start creates POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB in an empty PGDATA.
# Built by scripts/build_images.sh FROM the debootstrap root with postgresql-15 installed.
FROM unlearn-services:offline
COPY postgres-offline-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PGDATA=/var/lib/postgresql/data PATH=/usr/lib/postgresql/15/bin:$PATH
ENTRYPOINT ["sh", "/usr/local/bin/docker-entrypoint.sh"]
CMD ["postgres"]
