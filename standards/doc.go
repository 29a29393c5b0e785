// Package standards holds the Vietnamese rules quantrac speaks, as data and
// code with their sources cited:
//
//   - VN_AQI, the Vietnamese air quality index of Decision 1459/QĐ-TCMT
//     (12 November 2019): NowCast for PM2.5 and PM10, hourly and daily
//     sub-indices, the overall index and its six categories with their
//     official colours and health messages;
//   - the US EPA AQI (2024 PM2.5 breakpoints) as a second scale;
//   - QCVN 05:2023/BTNMT ambient air limits and QCVN 08:2023/BTNMT surface
//     water classes;
//   - flood alarm levels of Decision 05/2020/QĐ-TTg for named hydrological
//     stations, extendable from a YAML file;
//   - the Circular 10/2021/TT-BTNMT status codes and the daily
//     data-completeness figure departments are judged on;
//   - AQIJob, which keeps the derived series aqi_vn and aqi_vn_daily up to
//     date from hourly means read through a model.Reader.
//
// The tables are the single source for both the computations here and the
// alert rule packs generated into configs/rules (see cmd/rulepacks). Where a
// value could not be confirmed against the published text, the entry says so.
// Page and section references to Decision 1459 are to the 11-page PDF
// published by the Vietnam Environment Administration.
package standards
