-- One database per service: no service ever reads another's tables.
CREATE DATABASE goals;
CREATE DATABASE performance;
CREATE DATABASE feedback;
