// Package simulator runs a province of fake monitoring stations so that
// quantrac can be developed, tested and demonstrated without field hardware.
//
// A scenario (YAML) lists stations of three transports:
//
//   - Modbus TCP dataloggers: real Modbus TCP servers that serve the same
//     register-map files the collector reads (configs/maps), encoded with the
//     drivers/modbus register codecs;
//   - MQTT stations: publishers to an embedded broker (with users and an ACL)
//     or to an external broker, in the number, flat JSON and SenML formats;
//   - TXT dataloggers: Circular 10/2021 style files dropped into a spool
//     directory.
//
// Every value is a deterministic function of the seed, the station, the
// parameter and the time step, so the simulator can answer "what was the true
// value of this parameter at this instant" for any past instant (Truth), which
// is what end-to-end tests compare the stored data against. Faults (offline,
// slow, exceptions, dropped connections, stuck values, spikes, calibration,
// device error, clock skew, malformed and duplicate messages, broker restarts,
// half-written files) are kept on a timeline, so the truth accounts for them.
//
// Signals run on simulated time, which may run faster than the wall clock
// (Scenario.Speed); samples are always stamped with wall-clock time.
package simulator
