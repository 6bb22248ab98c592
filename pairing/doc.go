// Package pairing binds a new kiosk to a tenant and a location by a device
// code, in the shape of RFC 8628 (the OAuth device authorization grant), and
// gives the kiosk the means to prove itself afterwards without a bearer
// secret. Both sides use it: the kiosk engine (Client, GenerateKey,
// QRCodePNG, SignChallenge) and the cloud (NewUserCode, NewDeviceCode,
// HashCode, VerifyRequest, VerifyChallenge, Attempts, the wire types).
//
// The flow:
//
//  1. The kiosk makes an Ed25519 key pair (GenerateKey) and calls
//     Client.RequestCode: POST /api/pairing/device-code with its public key
//     and a name. The cloud answers a device code (a 256-bit secret kept by
//     the kiosk), a user code ("BCDF-GHJK"), the verification URIs, a life of
//     600 s, a polling interval of 5 s and its own clock (server_time).
//  2. The kiosk shows verification_uri_complete as a QR code (QRCodePNG) and
//     the user code in large type.
//  3. An admin scans or types it, signs in through Hub, needs
//     visitor.admin.kiosk, picks a location and a name, approves.
//  4. Meanwhile the kiosk polls POST /api/pairing/token (Client.WaitForApproval),
//     each poll signed with its key (SignRequest). On approval it receives its
//     device id, tenant and location.
//  5. From then on it proves itself on every sync connection by signing the
//     server's fresh nonce (SignChallenge / VerifyChallenge).
//
// See README.md in this folder for the security properties and how the
// cloud and the kiosk call this package.
package pairing
