// Package redisstore implements the ports over Redis with go-redis/v9, in the key
// layout of docs/api.md §2, on Redis 6.0 and later (no GETDEL, no 7.x-only commands):
// the run logs (Streams shared with the Python Celery producers) and the job directory.
package redisstore
