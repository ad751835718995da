package saslauth

import "context"

// plainSession is one RFC 4616 PLAIN exchange.
type plainSession struct {
	cfg    Config
	result Result
}

func (s *plainSession) Next(ctx context.Context, response []byte) ([]byte, bool, error) {
	return nil, true, &Failure{Condition: TemporaryAuthFailure}
}

func (s *plainSession) Result() Result { return s.result }
