// AWS clients: SigV4, credentials, EC2 and EBS direct APIs.
