package api

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// Error types in JSON error answers, as the Prometheus API names them.
const (
	errBadData     = "bad_data"
	errExecution   = "execution"
	errUnavailable = "unavailable"
	errInternal    = "internal"
	errAuth        = "unauthorized"
	errForbidden   = "forbidden"
	errNotFound    = "not_found"
	errTooLarge    = "too_large"
	errTooMany     = "too_many_requests"
	errTimeout     = "timeout"
)

// httpError is an error with the status and type of its answer.
type httpError struct {
	status     int
	typ        string
	msg        string
	retryAfter int // seconds; 0 for none
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{status: fiber.StatusBadRequest, typ: errBadData, msg: fmt.Sprintf(format, args...)}
}

func newHTTPError(status int, typ, format string, args ...any) *httpError {
	return &httpError{status: status, typ: typ, msg: fmt.Sprintf(format, args...)}
}

// errorHandler answers every error with a JSON body
// {"status":"error","errorType":"...","error":"..."}.
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	var he *httpError
	var fe *fiber.Error
	switch {
	case errors.As(err, &he):
	case errors.As(err, &fe):
		typ := errBadData
		switch {
		case fe.Code == fiber.StatusNotFound:
			typ = errNotFound
		case fe.Code == fiber.StatusRequestEntityTooLarge:
			typ = errTooLarge
		case fe.Code >= 500:
			typ = errInternal
		case fe.Code == fiber.StatusMethodNotAllowed:
			typ = "method_not_allowed"
		}
		he = &httpError{status: fe.Code, typ: typ, msg: fe.Message}
	default:
		s.log.Error().Err(err).Str("path", c.Path()).Msg("request failed")
		he = &httpError{status: fiber.StatusInternalServerError, typ: errInternal, msg: err.Error()}
	}
	if he.retryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(he.retryAfter))
	}
	return c.Status(he.status).JSON(fiber.Map{"status": "error", "errorType": he.typ, "error": he.msg})
}

// checkParams answers 400 when the query string carries a parameter the
// route does not know. token is always allowed.
func checkParams(c *fiber.Ctx, allowed ...string) error {
	return checkArgs(c, false, allowed)
}

// checkFormParams is checkParams that also checks a form-encoded POST body
// (the Prometheus API accepts its parameters both ways).
func checkFormParams(c *fiber.Ctx, allowed ...string) error {
	return checkArgs(c, true, allowed)
}

func checkArgs(c *fiber.Ctx, form bool, allowed []string) error {
	var bad []string
	visit := func(k, _ []byte) {
		key := string(k)
		if key == "token" {
			return
		}
		for _, a := range allowed {
			if key == a {
				return
			}
		}
		bad = append(bad, key)
	}
	c.Context().QueryArgs().VisitAll(visit)
	if form && c.Method() == fiber.MethodPost && strings.HasPrefix(string(c.Request().Header.ContentType()), fiber.MIMEApplicationForm) {
		c.Context().PostArgs().VisitAll(visit)
	}
	if len(bad) > 0 {
		return badRequest("unknown parameter %q: this route takes %s", bad[0], strings.Join(allowed, ", "))
	}
	return nil
}

// queryValues returns every value of a query parameter.
func queryValues(c *fiber.Ctx, name string) []string {
	var out []string
	for _, v := range c.Context().QueryArgs().PeekMulti(name) {
		out = append(out, string(v))
	}
	return out
}

// formValues returns every value of a query or form parameter.
func formValues(c *fiber.Ctx, name string) []string {
	var out []string
	for _, v := range c.Context().QueryArgs().PeekMulti(name) {
		out = append(out, string(v))
	}
	if c.Method() == fiber.MethodPost {
		for _, v := range c.Context().PostArgs().PeekMulti(name) {
			out = append(out, string(v))
		}
	}
	return out
}

// formValue returns the first value of a query or form parameter.
func formValue(c *fiber.Ctx, name string) string {
	if v := c.Context().QueryArgs().Peek(name); v != nil {
		return string(v)
	}
	if c.Method() == fiber.MethodPost {
		if v := c.Context().PostArgs().Peek(name); v != nil {
			return string(v)
		}
	}
	return ""
}
