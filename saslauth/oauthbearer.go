package saslauth

import "context"

// oauthBearerSession is one RFC 7628 OAUTHBEARER exchange.
type oauthBearerSession struct {
	cfg    Config
	result Result
}

func (s *oauthBearerSession) Next(ctx context.Context, response []byte) ([]byte, bool, error) {
	return nil, true, &Failure{Condition: TemporaryAuthFailure}
}

func (s *oauthBearerSession) Result() Result { return s.result }
