// QueryService module.
