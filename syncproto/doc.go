// Package syncproto is the kiosk↔cloud sync wire protocol, version 1: frame
// types and their JSON codec, numbered error codes, version negotiation,
// the challenge handshake, clock-offset estimation and op-time correction,
// full-jitter reconnect backoff, and Conn, a framed connection over any
// Transport (a byte stream or a gorilla WebSocket).
//
// SPEC.md in this folder is the normative description; this package
// implements it and knows nothing of storage: the edge sync client and the
// cloud sync server are built on top of it.
//
// A client connects like this:
//
//	t := syncproto.NewWebSocketTransport(ws, 0)
//	w, sample, err := syncproto.ClientHandshake(ctx, t, params, sign)
//	if err != nil { t.Close(); delay, retry := backoff.NextFor(err); ... }
//	backoff.Reset()
//	c := syncproto.NewConn(t, syncproto.Options{HeartbeatInterval: w.Heartbeat()})
//	for { f, err := c.Recv(ctx); ... }
//
// and a server:
//
//	h, w, err := syncproto.ServerHandshake(ctx, t, syncproto.ServerParams{}, verify)
//	if err != nil { t.Close(); return }
//	c := syncproto.NewConn(t, syncproto.Options{})
package syncproto
