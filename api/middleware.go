package api

import (
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"
)

// accessLog writes one zerolog event per request (never the token) and
// feeds the request metrics.
func (s *Server) accessLog(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	if err != nil {
		if herr := s.errorHandler(c, err); herr != nil {
			s.log.Error().Err(herr).Msg("write error answer")
		}
	}
	dur := time.Since(start)
	status := c.Response().StatusCode()
	route := c.Route().Path
	if status == fiber.StatusNotFound && route == "/" {
		route = "unmatched"
	}
	s.metrics.GetOrCreateCounter(fmt.Sprintf(`quantrac_api_requests_total{route=%q,code="%d"}`, route, status)).Inc()
	s.metrics.GetOrCreateHistogram(fmt.Sprintf(`quantrac_api_request_duration_seconds{route=%q}`, route)).Update(dur.Seconds())
	ev := s.log.Info()
	if status >= 500 {
		ev = s.log.Error()
	} else if status >= 400 {
		ev = s.log.Warn()
	}
	p := principalOf(c)
	ev.Str("method", c.Method()).Str("path", c.Path()).Str("route", route).Int("status", status).
		Dur("dur", dur).Str("ip", c.IP()).Int("in", len(c.Request().Body())).Int("out", len(c.Response().Body())).
		Str("who", p.Name).Msg("http")
	return nil
}
