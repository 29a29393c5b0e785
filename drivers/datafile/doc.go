// Package datafile reads datalogger TXT files in the style of Circular
// 10/2021/TT-BTNMT from a spool directory.
//
// A station (or its FTP client) drops one file per measurement cycle, named
// <province>_<facility>_<station>_<yyyyMMddhhmmss>.txt, with one reading a
// line: parameter, value, unit, time yyyyMMddhhmmss (local time,
// Asia/Ho_Chi_Minh) and status 00/01/02, separated by tabs. Separator and
// column order are configurable.
//
// The parser (parse.go, name.go, params.go, text.go) is pure: bytes in,
// samples and per-line errors out. The Watcher (watcher.go) watches the
// spool with fsnotify plus a periodic rescan, waits until a file is
// complete, hands its samples to a Handler and moves it to done/ or, with a
// .error file naming each bad line, to rejected/. Station and time of every
// accepted file are remembered on disk so that a file sent twice is not
// stored twice.
package datafile
