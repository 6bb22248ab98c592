// Package packaging holds the tests of what this folder ships: the Debian
// packages visitor-cloud and visitor-kiosk (nfpm configurations, systemd
// units, environment files and maintainer scripts under cloud/ and
// kiosk/, built by ./build through `make package`) and the cloud's
// container image recipe (container/Dockerfile). It has no code of its
// own; container/healthcheck is the image's health probe.
package packaging
