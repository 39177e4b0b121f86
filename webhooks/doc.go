// Package webhooks tells a merchant's systems what happened, with signed HTTP callbacks that are
// delivered at least once.
//
// # Outbox
//
// A flow records an event with [Service.EnqueueTx] inside the same database transaction as the
// change the event reports (a payout row, a ledger entry). The event and its pending delivery
// commit or roll back together with that change, so no event is announced for a change that did
// not happen, and no committed change goes unannounced.
//
// # Delivery
//
// [Service.Run] (or [Service.DeliverDue], one pass) claims due deliveries, POSTs them to the
// merchant's endpoint and records every attempt. Several processes may run it side by side: a
// claim pushes the delivery's next_attempt_at forward as a lease in a short transaction (with
// FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite serializes writers), the HTTP request is made
// outside any transaction, and the result is recorded only by the holder of the lease. A process
// that dies between claim and record leaves the lease to expire, after which the delivery is
// claimed again: delivery is at least once, and receivers deduplicate by the webhook-id header,
// which is the event id and stays the same across retries.
//
// A 2xx response is success. Any other status, a redirect, a timeout or a network error is a
// failed attempt, retried with exponential backoff and jitter (by default 10 attempts, waits of
// 2, 4, 8, … 512 minutes, about 17 hours in all) and then marked failed.
//
// An event for a merchant with no endpoint is stored with its delivery all the same; the
// dispatcher re-checks such deliveries every few minutes without counting an attempt, and
// [Service.SetEndpoint] makes them due at once.
//
// # Signing
//
// Deliveries follow Standard Webhooks (https://www.standardwebhooks.com/): the headers
// webhook-id, webhook-timestamp and webhook-signature ("v1,<base64 HMAC-SHA256 of
// id.timestamp.body>"), keyed with the endpoint secret ("whsec_" + base64 of 32 random bytes).
// Any Standard Webhooks library verifies them; so does [Verify] in one call. Two further headers
// serve the seeds' clients: settle-event (the event type) and settle-signature (hex HMAC-SHA256 of
// the raw body under the same key).
package webhooks
