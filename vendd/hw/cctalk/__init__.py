"""ccTalk coin acceptor: a pure wire codec (`codec`) and a pyserial driver (`driver`)."""
